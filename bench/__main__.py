"""``python -m bench``: our client against bandersnatch 8.2.0 on the same local fake upstream.

Usage (from the repo root, as root: the peer runs in a chroot)::

    .venv/bin/python -m bench            # issue 9 sizes (2,000 projects, 700,000-project index, ...)
    .venv/bin/python -m bench --quick    # a tenth of the sizes, a few minutes
    .venv/bin/python -m bench --scenarios 1,4 --reps 5

Writes ``bench/RESULTS.md`` at the end (``bench/.work/RESULTS.partial.md`` after every scenario
group, so an interrupted run still leaves what it measured without clobbering the last table). Exit codes: 0 done (targets missed are reported, not failed), 1 a run of a tool
failed, 2 bad arguments or the peer could not be set up. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import measure
from .peer import PEER_ROOT, Peer, PeerSetupError
from .report import Row, render
from .scenarios import FULL, QUICK, SETTLE_SECONDS, Bench
from .tools import MirrorOptions, Ours, Theirs
from .upstream import Upstream

REPO = Path(__file__).resolve().parent.parent
GROUPS = {"1": "corpus_scenarios", "2": "corpus_scenarios", "3": "corpus_scenarios", "5": "corpus_scenarios", "4": "big_index",
          "6": "throughput", "7": "role"}
ROW_ORDER = ["1", "2", "3", "4-noop", "4-inc", "5", "6", "7-converge", "7-reconverge"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sizes (a tenth), for a fast check")
    p.add_argument("--reps", type=int, default=None, help="repetitions per tool and scenario (3)")
    p.add_argument("--workers", type=int, default=3, help="workers for both tools (3; bandersnatch allows <= 10)")
    p.add_argument("--scenarios", default="1,2,3,4,5,6,7", help="comma list of 1..7 (default all)")
    p.add_argument("--tools", choices=["both", "ours", "theirs"], default="both")
    p.add_argument("--nice", type=int, default=-10,
                   help="niceness of the clients and the fake (-10: ahead of other work on a shared box; 0: off)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the fake upstream to the last CPU")
    p.add_argument("--ours-source", type=Path, default=REPO / "mirror_tool",
                   help="mirror_tool package to benchmark; copied (frozen) at start (default: the work tree's)")
    p.add_argument("--work-dir", type=Path, default=REPO / "bench" / ".work")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = p.parse_args(argv)
    wanted = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    if not wanted or not wanted <= set(GROUPS):
        p.error(f"--scenarios: expected a comma list of 1..7, got {args.scenarios!r}")
    if not 1 <= args.workers <= 10:
        p.error("--workers: must be 1..10 (bandersnatch refuses more than 10)")
    if args.reps is not None and args.reps < 1:
        p.error("--reps: must be >= 1")
    args.wanted = wanted
    return args


def _git_rev() -> str:
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "mirror_tool"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return (out or "no commit yet") + (" + uncommitted mirror_tool changes" if dirty else "")


def smoke_test(ours: Ours, logs: Path) -> str:
    """'' when our client mirrors and verifies a tiny upstream, else the reason (one line)."""
    with Upstream(projects=8, releases=2, files=2, file_size=2048, pin=False,
                  log_path=logs / "upstream-smoke.log") as up:
        opts = MirrorOptions(master=up.url)
        ours.remove("smoke")
        for step in ("mirror", "mirror", "verify"):  # full, no-op, verify
            res = getattr(ours, step)("smoke", opts, logs / f"smoke-{step}.log")
            if not res.ok:
                last = (res.log_tail(1) or "no output").strip()
                return f"`{step}` exit {res.exit_code}: {last} (log {res.log_path})"
    ours.remove("smoke")
    return ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the fake upstreams are stopped by their context managers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    if os.geteuid() != 0 and args.tools != "ours":
        print("bench: must run as root (bandersnatch runs in a chroot)", file=sys.stderr)
        return 2
    sizes = QUICK if args.quick else FULL
    measure.PRIORITY = args.nice if os.geteuid() == 0 else max(0, args.nice)
    started = time.time()
    work = args.work_dir.resolve()
    logs = work / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)

    def log(msg: str) -> None:
        print(msg, flush=True)

    tools = []
    if args.tools in ("both", "ours"):
        ours = Ours(work / "ours", source=args.ours_source.resolve())
        problem = smoke_test(ours, logs)
        if problem:
            print(f"bench: our client ({ours.fingerprint}) fails a smoke run, not benchmarking it: "
                  f"{problem}", file=sys.stderr)
            return 2
        log(f"bench: ours = {ours.fingerprint}, {ours.install_note}")
        tools.append(ours)
    if args.tools in ("both", "theirs"):
        peer = Peer(PEER_ROOT)
        try:
            peer.ensure(log)
        except PeerSetupError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        tools.append(Theirs(peer))
        peer_python = peer.python_version
    else:
        peer_python = "-"

    partial = work / "RESULTS.partial.md"
    bench = Bench(tools, sizes, args.workers, logs, log, reps=args.reps, pin=not args.no_pin)
    rows: dict[str, Row] = {}

    def write() -> None:
        header = {
            "date (UTC)": datetime.datetime.fromtimestamp(started, datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M"),
            "mode": ("--quick (reduced sizes)" if args.quick else "full (issue 9 sizes)")
            + f", scenarios {','.join(sorted(args.wanted))}",
            "workers (both tools)": str(args.workers),
            "niceness of clients and fake": str(measure.PRIORITY),
            "repetitions per tool": str(bench.reps),
            "tree": _git_rev() + (f"; ours = {tools[0].fingerprint}, {tools[0].install_note}"
                                  if tools and tools[0].short == "ours" else ""),
            "bandersnatch's interpreter": f"Python {peer_python} (Debian 13 chroot)",
            "duration": f"{(time.time() - started) / 60:.1f} min",
            "1-minute load average during the runs (median / max; 2 cores)": (
                f"{statistics.median(bench.loads):.1f} / {max(bench.loads):.1f}" if bench.loads else "-"),
        }
        notes = [
            "The fake upstream (tests/fakepypi, one threaded Python process) is pinned to the last "
            "CPU; the clients are not pinned. On 2 cores the upstream competes with the client "
            "under test; the column 'fake CPU s' shows how much of a core it used per run. Both tools "
            "face the same upstream.",
            "The fake runs through `bench/fake_runner.py`, which raises its file-bytes and page "
            "caches (module constants) so that, after an untimed warm-up fetch of every JSON page, "
            "file and .metadata, it serves stored bytes like a CDN instead of rebuilding archives "
            "per request (which cost ~0.9 ms of the fake's single core per file and made the first "
            "client of a run pay for it).",
            "Peak RSS: GNU time's %M of the client (its waited-for children included, e.g. the "
            "chroot'ed bandersnatch); the client is started through /usr/bin/time so the "
            "orchestrator's own memory is not folded into the child's ru_maxrss at exec. CPU = "
            "user + sys from wait4. Wall time includes interpreter start-up for both tools.",
            "bandersnatch `verify` is given the master with https:// (same loopback address): its "
            "verify ignores `allow-non-https`; on a clean tree it fetches nothing.",
            "Trees of earlier runs are moved aside and deleted only between scenario groups, "
            f"followed by a {SETTLE_SECONDS:.0f} s pause: on this journal-less ext4 volume, "
            "allocating inodes right after a 20,000-file tree was deleted spent over half of the "
            "next run's CPU in the kernel's recently-deleted-inode scan (perf), whichever tool ran.",
            *bench.notes,
            *(f"FAILED RUN: {f}" for f in bench.failures),
        ]
        ordered = [rows[k] for k in ROW_ORDER if k in rows]
        # Partial tables go beside the work files; --out is replaced only by a finished run, so an
        # interrupted run never clobbers the last complete table.
        partial.write_text(render(ordered, header, bench.commands, notes))

    done_groups: set[str] = set()
    for scenario in sorted(args.wanted):
        group = GROUPS[scenario]
        if group in done_groups:
            continue
        done_groups.add(group)
        for row in getattr(bench, group)():
            if row.key.split("-")[0] in args.wanted:
                rows[row.key] = row
        write()
        log(f"bench: wrote {partial} (scenarios so far)")
    for tool in tools:
        tool.purge_retired()
    shutil.copyfile(partial, args.out)
    log(f"bench: wrote {args.out}")
    print(args.out.read_text())
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
