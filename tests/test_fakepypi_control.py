"""The ``/_fake/`` HTTP control API, the CLI and the fixtures' lifecycle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import xmlrpc.client
from pathlib import Path
from typing import Any

import pytest

from tests.fakepypi import FakePyPI
from tests.fakepypi.httpclient import control, fetch

ROOT = Path(__file__).resolve().parent.parent
V1_JSON = "application/vnd.pypi.simple.v1+json"


def ok(reply) -> dict:  # type: ignore[no-untyped-def]
    assert reply.status == 200, reply.text
    doc = reply.json()
    assert doc["ok"] is True
    return doc


def test_control_mutations_over_http(fakepypi: FakePyPI) -> None:
    base = fakepypi.base_url
    start = fakepypi.last_serial
    doc = ok(control(base, "upload", {"name": "Ctl.Pkg", "version": "1.0", "platforms": ["mac"],
                                      "requires_python": ">=3.10", "file_size": 3000}))
    assert doc["serial"] == doc["last_serial"] == fakepypi.last_serial
    assert {f["filename"] for f in doc["files"]} == {
        "ctl_pkg-1.0-py3-none-any.whl", "ctl_pkg-1.0.tar.gz", "ctl_pkg-1.0-py3-none-macosx_11_0_arm64.whl"}
    page = fetch(base + "/simple/ctl-pkg/", headers={"Accept": V1_JSON}).json()
    assert page["versions"] == ["1.0"] and all(f["requires-python"] == ">=3.10" for f in page["files"])
    assert ok(control(base, "yank", {"name": "ctl.pkg", "version": "1.0", "reason": "r"}))["serial"]
    assert fetch(base + "/pypi/ctl-pkg/json").json()["info"]["yanked_reason"] == "r"
    ok(control(base, "unyank", {"name": "ctl.pkg", "version": "1.0"}))
    ok(control(base, "remove-file", {"name": "Ctl.Pkg", "filename": "ctl_pkg-1.0.tar.gz"}))
    ok(control(base, "create-project", {"name": "Other_One"}))
    ok(control(base, "remove-release", {"name": "Ctl.Pkg", "version": "1.0"}))
    ok(control(base, "remove-project", {"name": "Ctl.Pkg"}))
    rows = ok(fetch(base + f"/_fake/journal?since={start}"))["rows"]
    assert [(r[0], r[3]) for r in rows] == [
        ("Ctl.Pkg", "create"), ("Ctl.Pkg", "add Owner fakeuser"), ("Ctl.Pkg", "new release"),
        ("Ctl.Pkg", "add py3 file ctl_pkg-1.0-py3-none-any.whl"), ("Ctl.Pkg", "add source file ctl_pkg-1.0.tar.gz"),
        ("Ctl.Pkg", "add py3 file ctl_pkg-1.0-py3-none-macosx_11_0_arm64.whl"), ("Ctl.Pkg", "yank release"),
        ("Ctl.Pkg", "unyank release"),
        ("Ctl.Pkg", "remove file ctl_pkg-1.0.tar.gz"), ("Other_One", "create"), ("Other_One", "add Owner fakeuser"),
        ("Ctl.Pkg", "remove release"), ("Ctl.Pkg", "remove project")]
    state = ok(control(base, "state"))
    assert state["last_serial"] == fakepypi.last_serial and state["base_url"] == base
    assert "other-one" in ok(control(base, "projects"))["projects"]


def test_control_errors(fakepypi: FakePyPI) -> None:
    base = fakepypi.base_url
    assert control(base, "yank", {"name": "nope", "version": "1"}).status == 404
    assert control(base, "upload", {"version": "1"}).status == 400
    assert control(base, "fault", {"kind": "bogus"}).status == 400
    assert control(base, "purge-mode", {"mode": "maybe"}).status == 400
    assert control(base, "no-such-endpoint", {}).status == 404
    reply = fetch(base + "/_fake/upload", "POST", {"Content-Type": "application/json"}, b"not json")
    assert reply.status == 400 and "error" in reply.json()


def test_control_cdn_faults_logs_over_http(fakepypi: FakePyPI) -> None:
    base = fakepypi.base_url
    pinned = ok(control(base, "pin", {"name": "Foo.Bar"}))["serial"]
    fakepypi.upload("Foo.Bar", "4.0.0")
    assert fetch(base + "/simple/foo-bar/").headers["X-PyPI-Last-Serial"] != str(fakepypi.last_serial)
    ok(control(base, "purge-mode", {"mode": "open"}))
    assert fetch(base + "/simple/foo-bar/", "PURGE").status == 200
    assert fetch(base + "/simple/foo-bar/").headers["X-PyPI-Last-Serial"] == str(fakepypi.last_serial)
    assert ok(control(base, "purges"))["purges"][0]["path"] == "/simple/foo-bar/"
    ok(control(base, "pin", {"path": "/simple/", "serial": pinned}))
    ok(control(base, "pin", {"name": "needs-py", "requests": 1}))
    assert set(ok(control(base, "pins"))["urls"]) == {"/simple/"}
    ok(control(base, "unpin", {}))
    assert ok(control(base, "pins"))["projects"] == {}
    fault_id = ok(control(base, "fault", {"kind": "status", "prefix": "/pypi/", "status": 503, "count": 1}))["id"]
    assert ok(control(base, "faults"))["faults"][0]["id"] == fault_id
    assert fetch(base + "/pypi/foo-bar/json").status == 503
    ok(control(base, "fault", {"kind": "status", "status": 500}))
    ok(control(base, "reset-faults", {}))
    assert fetch(base + "/pypi/foo-bar/json").status == 200
    log = ok(control(base, "requests"))["requests"]
    assert {"method", "path", "accept", "status", "bytes"} <= set(log[-1])
    assert log[-1]["path"] == "/pypi/foo-bar/json" and log[-1]["bytes"] > 0
    assert not any(r["path"].startswith("/_fake/") for r in log)
    ok(control(base, "clear-log", {}))
    assert ok(control(base, "requests"))["requests"] == [] and fakepypi.purges() == []
    ok(control(base, "xmlrpc", {"mode": "fault"}))
    with pytest.raises(xmlrpc.client.Fault):
        xmlrpc.client.ServerProxy(base + "/pypi").changelog_last_serial()
    ok(control(base, "core-metadata", {"enabled": False}))
    assert "core-metadata" not in fetch(base + "/simple/foo-bar/", headers={"Accept": V1_JSON}).text


def test_context_manager_and_stop_release_the_port() -> None:
    with FakePyPI(projects=2) as server:
        base = server.base_url
        assert fetch(base + "/simple/").status == 200
        assert server.port > 0
    with pytest.raises(OSError):
        fetch(base + "/simple/", timeout=2)


def test_stop_closes_keepalive_connections(fakepypi_factory) -> None:
    import http.client

    server = fakepypi_factory(projects=2)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/simple/")
    conn.getresponse().read()
    server.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/simple/")
        conn.getresponse().read()


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakepypi", "--host", "127.0.0.1", "--port", "0", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()  # type: ignore[union-attr]
    assert line.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else line  # type: ignore[union-attr]
    return proc, line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_options_and_clean_signal_stop(sig: int) -> None:
    proc, base = _start_cli("--projects", "10", "--releases", "2", "--files", "3", "--file-size", "4000",
                            "--seed", "3", "--changelog-cap", "5", "--purge-mode", "open", "--purge-key", "k",
                            "--no-core-metadata", "--xmlrpc", "on", "--index-projects", "50")
    try:
        state = fetch(base + "/_fake/state").json()
        assert state["projects"] == 10 and state["index_projects"] == 50
        assert state["purge_mode"] == "open" and state["core_metadata"] is False
        assert state["changelog_cap"] == 5
        rows: Any = xmlrpc.client.ServerProxy(base + "/pypi").changelog_since_serial(0)
        assert len(rows) == 5
        files = fetch(base + "/pypi/foo-bar/json").json()["urls"]
        assert len(files) == 3 and any(f["size"] == 4000 for f in files)
        assert fetch(base + "/simple/foo-bar/", "PURGE").status == 200
    finally:
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=10) == 0


def test_cli_xmlrpc_404_and_bad_arguments() -> None:
    proc, base = _start_cli("--xmlrpc", "404", "--projects", "1")
    try:
        reply = fetch(base + "/pypi", "POST", {"Content-Type": "text/xml"},
                      xmlrpc.client.dumps((), "changelog_last_serial").encode())
        assert reply.status == 404
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    bad = subprocess.run([sys.executable, "-m", "tests.fakepypi", "--purge-mode", "sometimes"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--purge-mode" in bad.stderr


def test_cli_port_in_use_exits_1_with_one_line(fakepypi: FakePyPI) -> None:
    busy = subprocess.run([sys.executable, "-m", "tests.fakepypi", "--port", str(fakepypi.port)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert busy.returncode == 1
    assert busy.stdout == ""
    lines = busy.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fakepypi: cannot listen on 127.0.0.1:")
