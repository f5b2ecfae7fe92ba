"""``python -m bench``: what cron runs (``pypi-mirror-run -c CONF``) against bandersnatch 8.2.0,
over a WAN shaped in the fake upstream, on mirrors of PyPI's size.

Usage (from the repo root, as root: bandersnatch runs in a chroot)::

    .venv/bin/python -m bench            # make bench: full sync, 10k / 100k / 700k mirrors (~25 min)
    .venv/bin/python -m bench --quick    # make bench-quick: smaller full sync, 10k / 100k mirrors (~6 min)
    .venv/bin/python -m bench --scenarios large --sizes 10000 --reps 2
    .venv/bin/python -m bench --scenarios fleet --tools ours   # hub + replicas (bench/fleet.py, ~3 min)

Large mirrors are built once (untimed, minutes to an hour at 700,000) and cached under
``bench/.work/trees``; later runs reuse them. Writes ``bench/RESULTS.md`` at the end
(``bench/.work/RESULTS.partial.md`` after every scenario). Exit codes: 0 done (missed targets are
reported, not failed), 1 a measured run failed, 2 bad arguments or setup failed (peer, snapshot,
role template, tree build). Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.fakepypi.__main__ import add_wan_args, wan_profile

from . import measure
from .limits import Wan
from .peer import PEER_ROOT, Peer, PeerSetupError
from .report import Row
from .results import render, save
from .role_config import RoleConfigError, RoleConfigs
from .runner import Runner
from .scenario_full import FullSize, full_sync
from .scenario_large import LargePlan, large_mirror
from .snapshot import SnapshotError, install_snapshot
from .tools import Ours, Theirs
from .tree_build import BuildError, LargeSpec
from .tree_template import TemplateError

REPO = Path(__file__).resolve().parent.parent
PAGES_ONLY_FROM = 700_000  # two full trees of this size do not fit this volume's inodes


@dataclass(frozen=True)
class Preset:
    """What make bench (FULL) and make bench-quick (QUICK) run; --reps overrides every count."""

    full: FullSize
    full_reps: int
    sizes: tuple[int, ...]
    reps: int  # large-mirror scenarios
    verify_reps: int
    verify_up_to: int  # no verify above this size (bandersnatch needs ~4 min per run at 100,000)


FULL = Preset(FullSize(400, 2, 2, 20_000), 3, (10_000, 100_000, 700_000), 5, 3, 100_000)
QUICK = Preset(FullSize(200, 2, 2, 20_000), 3, (10_000, 100_000), 3, 3, 10_000)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the ~10-minute subset (make bench-quick)")
    p.add_argument("--scenarios", default="full,large",
                   help="comma list of full, large, fleet (default full,large; fleet: hub and replicas, "
                        "ours only, written to bench/FLEET.md)")
    p.add_argument("--sizes", default=None, help="large-mirror sizes, comma list (default 10000,100000,700000; "
                                                 "--quick 10000)")
    p.add_argument("--reps", type=int, default=None,
                   help="repetitions per tool of every scenario (default: full sync 3, large mirrors 5, verify 3; "
                        "--quick 3, 3, 3)")
    p.add_argument("--workers", type=int, default=3, help="workers for both tools (3; bandersnatch allows <= 10)")
    p.add_argument("--tools", choices=["both", "ours"], default="both")
    p.add_argument("--nice", type=int, default=-10,
                   help="niceness of the clients and the fake (-10: ahead of other work on a shared box; 0: off)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the fake upstream to the last CPU")
    p.add_argument("--loopback", action="store_true", help="no WAN shaping (the bench's default is --wan)")
    add_wan_args(p)
    p.add_argument("--ours-source", type=Path, default=REPO / "mirror_tool",
                   help="mirror_tool package to benchmark; copied (frozen) at start (default: the work tree's)")
    p.add_argument("--work-dir", type=Path, default=REPO / "bench" / ".work")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = p.parse_args(argv)
    args.wanted = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    if not args.wanted or not args.wanted <= {"full", "large", "fleet"}:
        p.error(f"--scenarios: expected a comma list of full, large, fleet, got {args.scenarios!r}")
    if not 1 <= args.workers <= 10:
        p.error("--workers: must be 1..10 (bandersnatch refuses more than 10)")
    if args.reps is not None and args.reps < 1:
        p.error("--reps: must be >= 1")
    preset = QUICK if args.quick else FULL
    try:
        args.size_list = ([int(s) for s in args.sizes.split(",") if s.strip()] if args.sizes
                          else list(preset.sizes))
    except ValueError:
        p.error(f"--sizes: expected a comma list of numbers, got {args.sizes!r}")
    if any(s < 1000 for s in args.size_list):
        p.error("--sizes: each size must be >= 1000")
    args.preset = preset
    args.wan = not args.loopback
    args.wan_doc = wan_profile(args).as_dict()
    return args


def _git_rev() -> str:
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "mirror_tool"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return (out or "no commit yet") + (" + uncommitted mirror_tool changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the fake upstreams are stopped by their context managers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    if os.geteuid() != 0 and args.tools != "ours":
        print("bench: must run as root (bandersnatch runs in a chroot)", file=sys.stderr)
        return 2
    measure.PRIORITY = args.nice if os.geteuid() == 0 else max(0, args.nice)
    started = time.time()
    work = args.work_dir.resolve()
    logs = work / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)

    def log(msg: str) -> None:
        print(msg, flush=True)

    try:
        snapshot = install_snapshot(args.ours_source.resolve(), work)
        configs = RoleConfigs({"pypi_mirror_workers": args.workers, "pypi_mirror_verifiers": args.workers,
                               "pypi_mirror_json": True})
        ours = Ours(work / "ours", snapshot, configs)
        tools: list = [ours]
        log(f"bench: ours = {snapshot.fingerprint}, run as {snapshot.script('pypi-mirror-run')} -c CONF")
        if args.tools == "both":
            peer = Peer(PEER_ROOT)
            peer.ensure(log)
            tools.append(Theirs(peer, ours))
    except (SnapshotError, PeerSetupError, RoleConfigError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    preset: Preset = args.preset
    reps = args.reps or preset.reps
    runner = Runner(tools, logs, log, args.reps or preset.full_reps)
    runner.settle()  # trees earlier runs retired
    rows: list[Row] = []
    partial = work / "RESULTS.partial.md"
    wan = Wan.from_doc(args.wan_doc)

    def write() -> None:
        header = {
            "date (UTC)": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "mode": ("`--quick`" if args.quick else "full") + f", scenarios {','.join(sorted(args.wanted))}, "
                    f"large-mirror sizes {', '.join(f'{s:,}' for s in args.size_list)}",
            "WAN profile (in the fake upstream, during timed runs)": wan.describe() if args.wan else "off (loopback)",
            "workers (both tools)": str(args.workers),
            "repetitions per tool": (f"full sync {runner.reps}, large mirrors {reps}, verify "
                                     f"{args.reps or preset.verify_reps} (up to {preset.verify_up_to:,} projects)"),
            "niceness of clients and fake": str(measure.PRIORITY),
            "tree": f"{_git_rev()}; ours = {snapshot.fingerprint}",
            "duration": f"{(time.time() - started) / 60:.1f} min",
        }
        notes = [
            "Large mirrors are written from templates learned from each tool's own `sync` of 16 sample "
            "projects and checked byte for byte against them; the other projects, the root index and every "
            "state file come from the tools' own runs (bench/README.md). Trees are cached between bench runs "
            "and advanced by the incremental runs.",
            "The machine is shared: other work ran beside the bench; the load average above says how much. "
            "Clients and the fake run at the niceness above; the fake is pinned to the last CPU.",
            *runner.notes, *(f"FAILED RUN: {f}" for f in runner.failures)]
        partial.write_text(render(rows, header, runner.loads, runner.commands, notes, str(work)))
        save(work / "results.json", rows, header, runner.loads, runner.commands, notes, str(work))

    pin = not args.no_pin
    try:
        if "full" in args.wanted:
            log("bench: full sync")
            rows.append(full_sync(runner, preset.full, args.workers, args.wan_doc, pin))
            write()
        if "large" in args.wanted:
            for size in args.size_list:
                spec = LargeSpec(size, pages_only=size >= PAGES_ONLY_FROM)
                verify = not spec.pages_only and size <= preset.verify_up_to
                verify_reps = (args.reps or preset.verify_reps) if verify else 0
                log(f"bench: large mirror, {size:,} projects")
                rows.extend(large_mirror(runner, LargePlan(spec, reps, verify_reps), args.workers,
                                         args.wan_doc, pin, work))
                write()
        if "fleet" in args.wanted:
            from .fleet import run_scenario

            log("bench: fleet (a hub and replicas against independent mirrors)")
            log(run_scenario(quick=args.quick, reps=args.reps, out=REPO / "bench" / "FLEET.md"))
    except (BuildError, TemplateError, RoleConfigError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if not args.wanted & {"full", "large"}:
        return 1 if runner.failures else 0  # the fleet alone: bench/FLEET.md, RESULTS.md untouched
    write()
    shutil.copyfile(partial, args.out)
    log(f"bench: wrote {args.out}")
    print(args.out.read_text())
    for tool in tools:  # after the results: deleting trees takes a while on this volume
        left = tool.purge_retired()
        if left:
            log(f"bench: replaced large mirrors left for deletion by hand: {', '.join(map(str, left))}")
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
