"""HTTP library comparison on the fake upstream's WAN profile (issue 16); feeds docs/http-library.md.

    .venv/bin/python -m bench.http_libs                # about 10 minutes on 2 cores
    .venv/bin/python -m bench.http_libs --reps 1 --docs 600

Installs the candidates into throwaway virtualenvs under bench/.work (never into the project's
dependencies): urllib3, aiohttp, pycurl, httpx in one, niquests alone in a second (its
urllib3-future replaces the `urllib3` import of everything installed beside it). Starts
`python -m tests.fakepypi --wan` (40 ms round trip, 2 setup round trips per new connection,
200 Mbit/s per connection, 1 Gbit/s in all, gzip for JSON) in its own process, then for each
library, alternating the order every repetition, runs the same two sync-like workloads from
`bench/http_clients.py`: `docs` (every project's JSON, 10-50 KB, gzip) and `files` (20 KB to
50 MB). Reports the median wall time, the client's CPU time (user+sys, its process tree, from
wait4), the bytes on the wire (the fake's request log) and the share of the latency/link limit
reached: limit / wall, where the limit is what `procs x conc` streams cannot beat given the round
trips, the setup round trips of the connections opened and the rate caps.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
CANDIDATES = {  # venv name -> pinned requirements (what was measured)
    "httplibs": ["urllib3==2.8.0", "aiohttp==3.14.5", "pycurl==7.49.0", "httpx[h2]==0.28.1"],
    "niquests": ["niquests==3.21.2"],
}
VENV_OF = {"urllib3": "httplibs", "aiohttp": "httplibs", "pycurl": "httplibs", "httpx": "httplibs",
           "niquests": "niquests", "net": None}
FILE_MIX = [(20_000, 120), (200_000, 40), (2_000_000, 12), (10_000_000, 4), (50_000_000, 2)]


def ensure_venv(name: str) -> Path:
    """bench/.work/<name> with the candidates installed (created once, reused)."""
    venv = WORK / name
    stamp = venv / ".installed"
    want = " ".join(CANDIDATES[name])
    if stamp.exists() and stamp.read_text() == want:
        return venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *CANDIDATES[name]], check=True)
    stamp.write_text(want)
    return venv / "bin" / "python"


class Fake:
    """The fake upstream in its own process, with the WAN preset on."""

    def __init__(self, root: Path, projects: int, releases: int) -> None:
        cmd = [sys.executable, "-m", "tests.fakepypi", "--port", "0", "--wan", "--projects", str(projects),
               "--releases", str(releases), "--files", "2", "--file-size", "20000"]
        self.proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base = self.proc.stdout.readline().strip()
        if not self.base.startswith("http://127.0.0.1:"):
            raise SystemExit(f"http_libs: the fake upstream did not start ({self.base!r})")

    def call(self, endpoint: str, doc: dict | None = None) -> Any:
        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(f"{self.base}/_fake/{endpoint}", data=data)
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=120) as resp:
            return json.loads(resp.read())

    def cpu(self) -> float:
        """CPU seconds the fake has used so far (a saturated fake caps every client alike)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def prepare(fake: Fake) -> tuple[list[str], list[str]]:
    """Upload the file mix; return (document URLs, file URLs)."""
    files: list[str] = []
    for size, count in FILE_MIX:
        for i in range(count):
            up = fake.call("upload", {"name": f"Mix-{size}", "version": f"{i}.0", "file_size": size,
                                      "files": ["wheel"]})
            files += [f["url"] for f in up["files"]]
    random.Random(0).shuffle(files)  # sizes mixed, as a sync meets them (not all big files last)
    names = {re.sub(r"[-_.]+", "-", row[0]).lower() for row in fake.call("journal")["rows"]}
    # the normalized name: no redirect; the file-mix projects are not part of the document workload
    docs = [f"{fake.base}/pypi/{norm}/json" for norm in sorted(names) if not norm.startswith("mix-")]
    return docs, files


def run_one(fake: Fake, lib: str, workload: str, urlfile: Path, procs: int, conc: int) -> dict:
    venv = VENV_OF[lib]
    python = str(WORK / venv / "bin" / "python") if venv else str(ROOT / ".venv" / "bin" / "python")
    fake.call("clear-log", {})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [python, str(ROOT / "bench" / "http_clients.py"), lib, workload, str(urlfile),
           "--procs", str(procs), "--conc", str(conc)]
    server_cpu = fake.cpu()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    server_cpu = fake.cpu() - server_cpu
    assert proc.stdout is not None
    out = json.loads(proc.stdout.read() or b'{"requests": 0, "bytes": 0, "errors": -1}')
    log = fake.call("requests")["requests"]
    wan = fake.call("state")["wan"]
    return {"lib": lib, "workload": workload, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "status": status, **out, "wire": sum(e["bytes"] for e in log),
            "limit": limit(log, wan, procs * conc), "server_cpu": server_cpu}


def limit(log: list[dict], wan: dict, streams: int) -> float:
    """Seconds no client with `streams` concurrent requests can beat on this profile."""
    rtt, setup = wan["rtt"], wan["setup_rtts"]
    conn_rate = wan["conn_mbit"] * 1e6 / 8 if wan["conn_mbit"] else float("inf")
    link_rate = wan["link_mbit"] * 1e6 / 8 if wan["link_mbit"] else float("inf")
    busy = sum(rtt + e["bytes"] / conn_rate for e in log)
    opened = sum(1 for e in log if e.get("wan_delay", 0) > rtt * 1.5)
    per_stream = (busy + opened * setup * rtt) / streams
    longest = max((rtt * (1 + setup) + e["bytes"] / conn_rate for e in log), default=0.0)
    return max(per_stream, longest, sum(e["bytes"] for e in log) / link_rate)


def table(rows: list[dict]) -> str:
    out = ["| workload | library | wall s (median) | CPU s (user+sys) | wire MB | limit s | of limit | fake's CPU s | errors |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["workload"], r["lib"]), []).append(r)
    for (workload, lib), rs in sorted(groups.items()):
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        lim = statistics.median(r["limit"] for r in rs)
        out.append(f"| {workload} ({rs[0]['requests']} GETs) | {lib} | {wall:.2f} | {cpu:.2f} | "
                   f"{statistics.median(r['wire'] for r in rs) / 1e6:.1f} | {lim:.2f} | {lim / wall:.0%} | "
                   f"{statistics.median(r['server_cpu'] for r in rs):.2f} | "
                   f"{sum(r['errors'] for r in rs)} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.http_libs", description=__doc__.split("\n")[0])
    p.add_argument("--libs", default="urllib3,aiohttp,pycurl,httpx,niquests,net")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--docs", type=int, default=2000, help="projects, i.e. project-JSON GETs")
    p.add_argument("--releases", type=int, default=20, help="releases per project (JSON size)")
    p.add_argument("--procs", type=int, default=3, help="worker processes (a sync's workers)")
    p.add_argument("--conc", type=int, default=4, help="concurrent requests per process")
    p.add_argument("--fake-root", type=Path, default=ROOT, help="repository whose tests/fakepypi to run")
    args = p.parse_args(argv)
    libs = args.libs.split(",")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below (stop the fake)
    WORK.mkdir(parents=True, exist_ok=True)
    for name in {VENV_OF[lib] for lib in libs} - {None}:
        ensure_venv(name)  # type: ignore[arg-type]
    fake = Fake(args.fake_root, args.docs, args.releases)
    rows: list[dict] = []
    try:
        docs, files = prepare(fake)
        lists = {"docs": WORK / "docs.urls", "files": WORK / "files.urls"}
        lists["docs"].write_text("\n".join(docs) + "\n")
        lists["files"].write_text("\n".join(files) + "\n")
        for lib in libs:  # warm the fake's caches (gzip bodies, file bytes) untimed
            run_one(fake, lib, "docs", lists["docs"], args.procs, args.conc)
            break
        run_one(fake, libs[0], "files", lists["files"], args.procs, args.conc)
        for rep in range(args.reps):
            order = libs if rep % 2 == 0 else list(reversed(libs))
            for workload in ("docs", "files"):
                for lib in order:
                    row = run_one(fake, lib, workload, lists[workload], args.procs, args.conc)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    finally:
        fake.stop()
    (WORK / "http_libs.json").write_text(json.dumps(rows, indent=1))
    print(f"\nWAN preset, {args.procs} processes x {args.conc} concurrent requests, median of {args.reps}\n")
    (WORK / f"http_libs-c{args.conc}.md").write_text(table(rows) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
