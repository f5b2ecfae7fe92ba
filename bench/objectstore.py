"""``python -m bench.objectstore``: full and incremental syncs into an object store, ours against
bandersnatch 8.2.0's S3 backend, both writing to the same Swift all-in-one with the same workers.

Why a module of its own: the object-store scenarios need a Swift (``scripts/swift_aio.py``) and a
second virtualenv for the peer (``bandersnatch[s3]``); the disk scenarios of ``python -m bench``
need neither. Writes ``bench/RESULTS-objectstore.md``. Traffic goes only to 127.0.0.1.

    .venv/bin/python -m bench.objectstore             # 100 projects, 3 repetitions (~12 minutes)
    .venv/bin/python -m bench.objectstore --quick     # 40 projects, 1 repetition

Deviation on the peer's side, stated in the results: bandersnatch 8.2.0 takes its S3 lock with a
conditional PUT (``If-None-Match: *``), which Swift 2.30 answers 501 NotImplemented
(docs/object-store.md). A shim in the peer's own virtualenv (``s3peer.py``: a ``.pth`` hook)
turns that one call into a HEAD and a plain PUT, which is enough for one mirror process at a time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import measure
from .measure import RunResult, run_measured
from .peer import PEER_ROOT, Peer, PeerSetupError
from .s3peer import S3_VENV, ensure_s3_venv
from .upstream import Upstream

REPO = Path(__file__).resolve().parent.parent
SWIFT_AIO = REPO / "scripts" / "swift_aio.py"
SIZES = {"full": {"projects": 100, "releases": 2, "files": 2, "file_size": 16384, "reps": 3},
         "quick": {"projects": 40, "releases": 2, "files": 2, "file_size": 16384, "reps": 1}}
SHARED_KEYS = ("verifiers = {w}\nworkers = {w}\ntimeout = 60\nglobal-timeout = 18000\nstop-on-error = false\n"
               "json = true\nrelease-files = true\ncompare-method = hash\nsimple-format = ALL\nhash-index = false\n")


@dataclass
class Swift:
    """The running all-in-one (from ``swift_aio.py env``)."""

    endpoint: str
    region: str
    access_key: str
    secret_key: str
    credentials_file: Path

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}))


def start_swift(directory: Path) -> Swift:
    """A fresh instance: the objects of an earlier bench run are not carried along."""
    subprocess.run([sys.executable, str(SWIFT_AIO), "stop", str(directory)], capture_output=True, check=False)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, str(SWIFT_AIO), "start", str(directory), "--port", "0"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or "swift_aio.py start failed")
    env = dict(line.split("=", 1) for line in (directory / "swift-aio.env").read_text().splitlines() if "=" in line)
    return Swift(env["SWIFT_AIO_ENDPOINT"], env["SWIFT_AIO_REGION"], env["SWIFT_AIO_ACCESS_KEY"],
                 env["SWIFT_AIO_SECRET_KEY"], directory / "aws-credentials")


@dataclass
class Row:
    scenario: str
    ours: list[RunResult] = field(default_factory=list)
    theirs: list[RunResult] = field(default_factory=list)

    @staticmethod
    def median(runs: list[RunResult], attr: str) -> float | None:
        values = [getattr(r, attr) for r in runs if r.ok]
        return statistics.median(values) if values else None


class Contest:
    """Both tools, one bucket each, one prefix per repetition."""

    def __init__(self, work: Path, swift: Swift, peer: Peer, workers: int, log) -> None:  # type: ignore[no-untyped-def]
        self.work = work
        self.swift = swift
        self.peer = peer
        self.workers = workers
        self.log = log
        self.logs = work / "logs"
        self.ours_home = work / "ours-s3"
        self.theirs_home = peer.root / "bench" / "s3"
        for home in (self.logs, self.ours_home, self.theirs_home):
            home.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d%H%M%S")
        self.buckets = {"ours": f"bench-ours-{stamp}", "theirs": f"bench-bandersnatch-{stamp}"}
        client = swift.client()
        for bucket in self.buckets.values():
            client.create_bucket(Bucket=bucket)

    def fresh(self, name: str) -> None:
        """Forget ours' local state of `name` (a new prefix: the full sync must start from nothing;
        bandersnatch keeps its state in the bucket, which is new)."""
        shutil.rmtree(self.ours_home / name, ignore_errors=True)

    def ours(self, name: str, master: str) -> RunResult:
        conf = self.ours_home / f"{name}.conf"
        conf.write_text(
            f"[mirror]\ndirectory = {self.ours_home / name}\nmaster = {master}\nstorage-backend = s3\n"
            + SHARED_KEYS.format(w=self.workers)
            + f"[object-store]\nendpoint = {self.swift.endpoint}\nbucket = {self.buckets['ours']}\nprefix = {name}/\n"
              f"region = {self.swift.region}\ncredentials-file = {self.swift.credentials_file}\n")
        return run_measured([sys.executable, "-m", "mirror_tool", "-c", str(conf), "mirror"],
                            self.logs / f"ours-{name}-{time.monotonic_ns()}.log", cwd=REPO)

    def theirs(self, name: str, master: str) -> RunResult:
        conf = self.theirs_home / f"{name}.conf"
        conf.write_text(
            f"[mirror]\ndirectory = /{self.buckets['theirs']}/{name}\nmaster = {master}\nallow-non-https = true\n"
            "storage-backend = s3\n" + SHARED_KEYS.format(w=self.workers)
            + "\n[plugins]\nenabled =\n"
            + f"\n[s3]\nendpoint_url = {self.swift.endpoint}\nregion_name = {self.swift.region}\n"
              f"aws_access_key_id = {self.swift.access_key}\naws_secret_access_key = {self.swift.secret_key}\n"
              "signature_version = s3v4\n")
        conf.chmod(0o600)
        inside = "/" + str(conf.relative_to(self.peer.root))
        argv = ["chroot", str(self.peer.root), f"{S3_VENV}/bin/bandersnatch", "-c", inside, "mirror"]
        return run_measured(argv, self.logs / f"theirs-{name}-{time.monotonic_ns()}.log", env=self.peer.chroot_env())

    def objects(self, tool: str, name: str) -> int:
        """Files below the tool's `packages/` (bandersnatch keeps its tree below `<directory>/web/`
        and adds a `.s3keep` marker object per directory, not counted)."""
        client = self.swift.client()
        count = 0
        prefix = f"{name}/packages/" if tool == "ours" else f"{name}/web/packages/"
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.buckets[tool], Prefix=prefix):
            count += sum(1 for item in page.get("Contents", []) if not item["Key"].endswith("/.s3keep"))
        return count


def run(args: argparse.Namespace) -> int:
    sizes = SIZES["quick" if args.quick else "full"]
    reps = args.reps or sizes["reps"]
    work = args.work_dir.resolve()
    started = time.time()

    def log(msg: str) -> None:
        print(msg, flush=True)

    peer = Peer(PEER_ROOT)  # the chroot the disk bench and the adoption test share; bandersnatch[s3] gets its own venv
    try:
        peer.ensure(log)
        shim = ensure_s3_venv(peer, log)
    except PeerSetupError as exc:
        print(f"bench.objectstore: {exc}", file=sys.stderr)
        return 2
    swift_dir = work / "swift-aio"
    swift = start_swift(swift_dir)
    rows = {"full": Row("full sync into the bucket"), "incremental": Row("incremental sync (changes upstream)")}
    notes: list[str] = []
    loads: list[float] = []
    wan: dict = {}
    try:
        contest = Contest(work, swift, peer, args.workers, log)
        with Upstream(projects=sizes["projects"], releases=sizes["releases"], files=sizes["files"],
                      file_size=sizes["file_size"], pin=True, log_path=work / "logs" / "upstream-s3.log") as up:
            up.warm_corpus()
            wan = up.set_wan({"profile": "wan"})  # the production profile, as the disk scenarios
            for rep in range(reps):
                order = ("ours", "theirs") if rep % 2 == 0 else ("theirs", "ours")
                name = f"rep{rep}"
                contest.fresh(name)
                for tool in order:
                    result = getattr(contest, tool)(name, up.url)
                    getattr(rows["full"], tool).append(result)
                    loads.append(os.getloadavg()[0])
                    log(f"bench.objectstore: full, {tool}, rep {rep}: exit {result.exit_code}, {result.wall_s:.1f} s")
                files_ours, files_theirs = contest.objects("ours", name), contest.objects("theirs", name)
                notes.append(f"rep {rep}: files below packages/ after the full sync: ours {files_ours}, "
                             f"bandersnatch {files_theirs} (plus its .s3keep markers)")
                projects = sorted(up.projects())
                for i, project in enumerate(projects[: max(4, len(projects) // 10)]):
                    up.upload(up.projects()[project]["name"], f"9.{rep}.{i}", file_size=sizes["file_size"])
                for tool in order:
                    result = getattr(contest, tool)(name, up.url)
                    getattr(rows["incremental"], tool).append(result)
                    loads.append(os.getloadavg()[0])
                    log(f"bench.objectstore: incremental, {tool}, rep {rep}: exit {result.exit_code}, {result.wall_s:.1f} s")
    finally:
        subprocess.run([sys.executable, str(SWIFT_AIO), "stop", str(swift_dir)], capture_output=True, check=False)
    header = {
        "date (UTC)": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "network": "WAN profile of the fake upstream (" + ", ".join(f"{k} {v}" for k, v in sorted(wan.items())) + ")",
        "corpus": f"{sizes['projects']} projects x {sizes['releases']} releases x {sizes['files']} files of "
                  f"{sizes['file_size']} bytes (+ .metadata); incremental: new releases of a tenth of the projects",
        "workers (both tools)": str(args.workers),
        "repetitions": str(reps),
        "object store": "Swift 2.30 all-in-one (scripts/swift_aio.py, one node, s3api, tempauth) on this machine",
        "peer": f"bandersnatch[s3] 8.2.0 in {S3_VENV} of the Debian 13 chroot (bench/peer.py), {shim}",
        "duration": f"{(time.time() - started) / 60:.1f} min",
        "1-minute load average after each run (median / max; 2 cores)": (
            f"{statistics.median(loads):.1f} / {max(loads):.1f}" if loads else "-"),
    }
    failures = [r for row in rows.values() for r in row.ours + row.theirs if not r.ok]
    notes += [f"FAILED RUN: exit {r.exit_code}, log {r.log_path}" for r in failures]
    args.out.write_text(render(rows, header, notes))
    log(f"bench.objectstore: wrote {args.out}")
    print(args.out.read_text())
    return 1 if failures else 0


def render(rows: dict[str, Row], header: dict[str, str], notes: list[str]) -> str:
    out = ["# Object-store benchmark: ours against bandersnatch 8.2.0 `[s3]` on the same Swift", "",
           "Generated by `python -m bench.objectstore` (`make bench`). Medians of successful runs; "
           "ratio = bandersnatch / ours (above 1: ours is faster).", ""]
    out += [f"- {key}: {value}" for key, value in header.items()]
    out += ["", "| scenario | ours wall s | bandersnatch wall s | wall ratio | ours CPU s | bandersnatch CPU s | "
            "CPU ratio | ours peak RSS MiB | bandersnatch peak RSS MiB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def fmt(value: float | None, scale: float = 1.0) -> str:
        return "-" if value is None else f"{value / scale:.1f}"

    def ratio(theirs: float | None, ours: float | None) -> str:
        return "-" if not theirs or not ours else f"{theirs / ours:.2f}"

    for row in rows.values():
        ow, tw = Row.median(row.ours, "wall_s"), Row.median(row.theirs, "wall_s")
        oc, tc = Row.median(row.ours, "cpu_s"), Row.median(row.theirs, "cpu_s")
        orss, trss = Row.median(row.ours, "peak_rss_kib"), Row.median(row.theirs, "peak_rss_kib")
        out.append(f"| {row.scenario} | {fmt(ow)} | {fmt(tw)} | {ratio(tw, ow)} | {fmt(oc)} | {fmt(tc)} | "
                   f"{ratio(tc, oc)} | {fmt(orss, 1024)} | {fmt(trss, 1024)} |")
    out += ["", "Samples (wall s, exit code):", ""]
    for row in rows.values():
        for tool, runs in (("ours", row.ours), ("bandersnatch", row.theirs)):
            out.append(f"- {row.scenario}, {tool}: " + ", ".join(f"{r.wall_s:.1f} ({r.exit_code})" for r in runs))
    out += ["", "Notes:", ""]
    out += [f"- {note}" for note in [
        "Deviation on the peer's side: bandersnatch 8.2.0 takes its S3 lock with PutObject(IfNoneMatch='*'), "
        "which Swift 2.30 answers 501 NotImplemented (docs/object-store.md). A shim in the peer's own "
        "virtualenv only (bench/s3peer.py, a .pth hook) turns that one call into HEAD + PUT; one mirror "
        "process runs at a time, so the lock keeps its meaning.",
        "Both tools mirror the same fake upstream (tests/fakepypi, pinned to the last CPU) into their own "
        "bucket, one prefix per repetition, with the same workers, json = true and hash compare. The fake, "
        "Swift's servers and the client share the 2 cores: absolute times are this machine's, the ratios "
        "are the result.",
        *notes]]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.objectstore", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="40 projects, 1 repetition")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--nice", type=int, default=-10)
    p.add_argument("--work-dir", type=Path, default=REPO / "bench" / ".work")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS-objectstore.md")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench.objectstore: must run as root (the peer runs in a chroot, Swift needs root)", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= 10:
        p.error("--workers: must be 1..10 (bandersnatch refuses more than 10)")
    measure.PRIORITY = args.nice
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

