"""Benchmark of the fleet (issue 18): hub and replicas against independent mirrors.

    .venv/bin/python -m bench.fleet [--projects 300] [--changes 30] [--reps 3] [--replicas 7]

Two questions, answered in one run against the same fake upstream (tests/fakepypi, its own
process, 127.0.0.1 only) and written to bench/FLEET.md:

1. Bytes taken from the upstream by a fleet of eight: one hub and seven replicas against eight
   independent mirrors, each doing a full sync and then an incremental one after the same
   changes. Counted from the fake's request log (response body bytes), WAN shaping off (it
   changes no byte).
2. Time of one replica's incremental sync from its hub against the same replica config syncing
   from the upstream directly, both over the WAN profile (`--wan`: 40 ms round trips, two more on
   a new connection, 200 Mbit/s per connection): the upstream shapes its own answers, the hub
   (nginx with the role's vhost) sits behind bench/wan_proxy.py with the same numbers. Each rep
   uploads new releases, lets the hub sync (untimed), then times both mirrors in alternating
   order, with `json = false` and with `json = true`; medians are reported, and the no-op of
   each once per rep.

Runs are `python -m mirror_tool -c CONF mirror` processes; nothing here asserts a time (see
bench/README.md). `python -m bench --scenarios fleet` runs it from the harness (`run_scenario`);
it compares our client with itself, so it has no bandersnatch column.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.wan_proxy import Shape, WanProxy

REPO = Path(__file__).resolve().parent.parent
READING = (
    "Over the same network a replica's incremental run from a hub costs what a run from the "
    'upstream costs: one page per changed project plus its files (with `json = true` the JSON '
    'copy is one more GET per project, which a PyPI-dialect run gets in its JSON API call). The '
    "journal replaces the XML-RPC feed at the same price. What the hub saves is the upstream's "
    'bytes and calls (above), stale CDN pages met once instead of eight times, and one serial '
    'across the fleet.')
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Fake:
    """tests.fakepypi in its own process; control API over 127.0.0.1."""

    def __init__(self, projects: int, releases: int, files: int, file_size: int) -> None:
        argv = [sys.executable, "-m", "tests.fakepypi", "--host", "127.0.0.1", "--port", "0",
                "--projects", str(projects), "--releases", str(releases), "--files", str(files),
                "--file-size", str(file_size)]
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip().rstrip("/")
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise SystemExit(f"bench.fleet: the fake upstream did not start ({self.url!r})")

    def call(self, endpoint: str, doc: dict | None = None) -> dict:
        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(f"{self.url}/_fake/{endpoint}", data=data,
                                     headers={"Content-Type": "application/json"})
        with OPENER.open(req, timeout=600) as resp:
            return json.loads(resp.read())

    def take_bytes(self) -> int:
        """Body bytes the upstream sent since the last call (the log is cleared)."""
        sent = sum(int(r.get("bytes") or 0) for r in self.call("requests")["requests"])
        self.call("clear-log", {})
        return sent

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@dataclass
class Mirror:
    name: str
    conf: Path
    directory: Path

    def sync(self) -> tuple[float, int]:
        """(wall seconds, exit code) of one `pypi-mirror mirror` run."""
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
        env["PYTHONPATH"] = str(REPO)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", "mirror_tool", "-c", str(self.conf), "mirror"], cwd=REPO,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode
        return time.perf_counter() - start, code

    def serial(self) -> int:
        return int((self.directory / "status").read_text())


def make_mirror(work: Path, name: str, master: str, **keys: str) -> Mirror:
    directory = work / name
    keys = {"workers": "3", "json": "true", "timeout": "30", **keys}
    lines = ["[mirror]", f"directory = {directory}", f"master = {master}", *(f"{k} = {v}" for k, v in keys.items())]
    conf = work / f"{name}.conf"
    conf.write_text("\n".join(lines) + "\n")
    return Mirror(name, conf, directory)


def must(mirror: Mirror, target: int | None = None) -> float:
    seconds, code = mirror.sync()
    if code != 0 or (target is not None and mirror.serial() < target):
        raise SystemExit(f"bench.fleet: {mirror.name} exited {code} (serial {mirror.serial()}, want {target})")
    return seconds


def upload_changes(fake: Fake, count: int, tag: str) -> int:
    names = [p["name"] for p in fake.call("projects")["projects"].values()][:count]
    serial = 0
    for i, name in enumerate(names):
        serial = fake.call("upload", {"name": name, "version": f"90.{tag}.{i}"})["last_serial"]
    return serial


@dataclass
class Results:
    args: dict
    bytes: dict[str, int] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)


def bytes_of_a_fleet(fake: Fake, work: Path, hub_url: str, replicas: int, changes: int, res: Results) -> Mirror:
    """Hub + replicas against as many independent mirrors; returns the hub (it serves phase 2)."""
    hub = make_mirror(work, "hub", fake.url)
    fleet = [make_mirror(work, f"replica{i}", hub_url, **{"upstream-kind": "mirror"}) for i in range(replicas)]
    alone = [make_mirror(work, f"independent{i}", fake.url) for i in range(replicas + 1)]
    fake.take_bytes()
    target = fake.call("state")["last_serial"]
    must(hub, target)
    res.bytes["hub full"] = fake.take_bytes()
    for replica in fleet:
        must(replica, target)
    res.bytes["replicas full"] = fake.take_bytes()
    for mirror in alone:
        must(mirror, target)
    res.bytes["independent full"] = fake.take_bytes()
    target = upload_changes(fake, changes, "bytes")
    fake.take_bytes()
    must(hub, target)
    res.bytes["hub incremental"] = fake.take_bytes()
    for replica in fleet:
        must(replica, target)
    res.bytes["replicas incremental"] = fake.take_bytes()
    for mirror in alone:
        must(mirror, target)
    res.bytes["independent incremental"] = fake.take_bytes()
    return hub


def time_incremental(fake: Fake, work: Path, hub: Mirror, hub_url: str, reps: int, changes: int, res: Results) -> None:
    """The same replica config from the hub (behind the WAN proxy) and from the upstream (WAN),
    without and with JSON API copies (`json = true` costs a replica one more GET per project)."""
    pairs = []
    for json_copies in ("false", "true"):
        pairs.append((make_mirror(work, f"from-hub-json-{json_copies}", hub_url, json=json_copies,
                                  **{"upstream-kind": "mirror"}),
                      make_mirror(work, f"from-upstream-json-{json_copies}", fake.url, json=json_copies)))
    target = fake.call("state")["last_serial"]
    for pair in pairs:
        for mirror in pair:
            must(mirror, target)
    fake.call("wan", {"profile": "wan"})
    for rep in range(reps):
        target = upload_changes(fake, changes, f"t{rep}")
        must(hub, target)
        for pair in pairs:
            order = pair if rep % 2 == 0 else pair[::-1]
            for mirror in order:
                res.times.setdefault(f"{mirror.name} incremental", []).append(must(mirror, target))
            for mirror in order:
                res.times.setdefault(f"{mirror.name} no-op", []).append(must(mirror, target))
    fake.call("wan", {"profile": "off"})


def report(res: Results) -> str:
    b, a = res.bytes, res.args
    fleet_total = b["hub full"] + b["replicas full"] + b["hub incremental"] + b["replicas incremental"]
    alone_total = b["independent full"] + b["independent incremental"]
    med = {k: statistics.median(v) for k, v in res.times.items()}
    n = a["replicas"] + 1
    lines = [
        "# Fleet benchmark (bench/fleet.py)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}): `python -m bench.fleet "
        + " ".join(f"--{k} {v}" for k, v in a.items()) + "`.",
        f"Upstream: tests/fakepypi, {a['projects']} projects x {a['releases']} releases x {a['files']} files of "
        f"{a['file_size']} bytes; changes: {a['changes']} new releases per round.",
        "",
        f"## Bytes from the upstream, a fleet of {n}",
        "",
        "| | full sync | incremental | total |",
        "| --- | ---: | ---: | ---: |",
        f"| hub + {a['replicas']} replicas | {b['hub full'] + b['replicas full']:,} "
        f"(replicas: {b['replicas full']:,}) | {b['hub incremental'] + b['replicas incremental']:,} "
        f"(replicas: {b['replicas incremental']:,}) | {fleet_total:,} |",
        f"| {n} independent mirrors | {b['independent full']:,} | {b['independent incremental']:,} | {alone_total:,} |",
        "",
        f"The fleet takes {alone_total / max(fleet_total, 1):.1f}x fewer bytes from the upstream "
        "(replicas take none: they sync from the hub).",
        "",
        f"## One replica's sync over the WAN profile, median of {a['reps']}",
        "",
        "Ratio: time from the upstream / time from the hub (above 1: the hub is faster).",
        "",
        "| run | from the hub | from the upstream | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for json_copies in ("false", "true"):
        for kind in ("incremental", "no-op"):
            hub_s = med[f"from-hub-json-{json_copies} {kind}"]
            up_s = med[f"from-upstream-json-{json_copies} {kind}"]
            lines.append(f"| {kind}, json = {json_copies} | {hub_s:.2f} s | {up_s:.2f} s | {up_s / hub_s:.2f}x |")
    lines += ["", READING]
    lines += ["", "Every run: " + json.dumps({k: [round(x, 3) for x in v] for k, v in res.times.items()}), ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> Results:
    from tests.support.nginx import start_nginx

    res = Results({k: getattr(args, k) for k in ("projects", "releases", "files", "file_size", "changes",
                                                 "reps", "replicas")})
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    fake = Fake(args.projects, args.releases, args.files, args.file_size)
    nginx = proxy = None
    try:
        (work / "hub" / "web").mkdir(parents=True)
        nginx = start_nginx(work / "hub" / "web", work / "nginx")
        hub = bytes_of_a_fleet(fake, work, nginx.base_url, args.replicas, args.changes, res)
        from tests.fakepypi.wan import WAN

        proxy = WanProxy(nginx.port, Shape.from_fake(WAN)).start()
        time_incremental(fake, work, hub, proxy.url, args.reps, args.changes, res)
    finally:
        if proxy is not None:
            proxy.stop()
        if nginx is not None:
            nginx.stop()
        fake.stop()
        shutil.rmtree(work, ignore_errors=True)
    return res


def run_scenario(*, quick: bool, reps: int | None, out: Path) -> str:
    """`python -m bench --scenarios fleet`: this benchmark with the defaults (a smaller corpus with
    `--quick`); writes `out` and returns the report."""
    argv = ["--out", str(out)] + (["--projects", "150"] if quick else []) + (["--reps", str(reps)] if reps else [])
    args = _parser().parse_args(argv)
    text = report(run(args))
    args.out.write_text(text)
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=300)
    parser.add_argument("--releases", type=int, default=3)
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--file-size", type=int, default=20000)
    parser.add_argument("--changes", type=int, default=30, help="new releases per round")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "FLEET.md")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    text = report(run(args))
    print(text)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
