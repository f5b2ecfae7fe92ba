"""A Warehouse-sized index (700,000 projects) streams within the 1 GB memory bound."""

from __future__ import annotations

import json
import subprocess
import sys
import xmlrpc.client
from pathlib import Path
from typing import Any

from tests.fakepypi.httpclient import fetch

ROOT = Path(__file__).resolve().parent.parent
TOTAL = 700_000
ONE_GB_KB = 1024 * 1024


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def test_700k_index_streams_within_memory_bound() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakepypi", "--port", "0", "--index-projects", str(TOTAL)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert base.startswith("http://127.0.0.1:")
        reply = fetch(base + "/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=120)
        assert reply.status == 200 and reply.headers["Transfer-Encoding"] == "chunked"
        doc = json.loads(reply.body)
        projects = doc["projects"]
        assert len(projects) == TOTAL
        assert len({p["name"] for p in projects}) == TOTAL
        assert doc["meta"]["_last-serial"] == int(reply.headers["X-PyPI-Last-Serial"])
        assert max(p["_last-serial"] for p in projects) == doc["meta"]["_last-serial"]
        del doc, projects, reply
        html = fetch(base + "/simple/", timeout=120)
        assert html.status == 200 and html.body.count(b"<a href=") == TOTAL
        del html
        packages: Any = xmlrpc.client.ServerProxy(base + "/pypi").list_packages_with_serial()
        assert len(packages) == TOTAL and packages["Lazy_Pkg.0699991"] == 4 * 699992
        del packages
        page = fetch(base + "/simple/lazy-pkg-0500000/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        assert page.status == 200 and len(page.json()["files"]) == 1  # type: ignore[index]
        assert peak_rss_kb(proc.pid) < ONE_GB_KB
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
