"""``python -m bench.profile``: one scenario of the bench under py-spy, with the top entries.

Why: a missed target is explained in ``bench/analysis.md`` from a profile of the very command the
bench timed, in the same setting (WAN profile on, cached large mirror, caught up). This sets the
scene like ``python -m bench`` does, runs the tool's command once under ``py-spy record --idle
--subprocesses`` (wall-clock samples of every process, waiting included) and prints where the
samples fall: by leaf frame (self) and by function anywhere on the stack (inclusive).

    .venv/bin/python -m bench.profile --size 10000 --scenario noop
    .venv/bin/python -m bench.profile --scenario full --tool bandersnatch

py-spy comes from ``bench/.work/prof-venv`` (created with ``pip install py-spy`` when missing).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
from pathlib import Path

from . import changes
from .peer import PEER_ROOT, Peer
from .role_config import RoleConfigs
from .snapshot import install_snapshot
from .tools import Ours, Theirs, Tool
from .tree_build import LargeMirrors, LargeSpec
from .scenario_large import warm
from .upstream import Upstream

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"


def py_spy() -> str:
    venv = WORK / "prof-venv"
    if not (venv / "bin" / "py-spy").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True)
    return str(venv / "bin" / "py-spy")


def summarize(raw: Path, top: int) -> str:
    """Top leaf frames and top inclusive functions of a py-spy ``raw`` (collapsed stacks) file."""
    leaf: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  for f in stack.split(";") if f]
        if frames:
            leaf[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    out = [f"{total} samples", "", "self:"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in leaf.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in incl.most_common(top)]
    return "\n".join(out)


def command(tool: Tool, scenario: str, conf: Path) -> list[str]:
    snap = tool.snapshot if isinstance(tool, Ours) else None
    if snap is not None:
        if scenario in ("verify", "status"):
            return [snap.script("pypi-mirror"), "-c", str(conf), scenario]
        return [snap.script("pypi-mirror-run"), "-c", str(conf)]
    assert isinstance(tool, Theirs)
    inside = tool._inside(conf.with_suffix(".verify.conf") if scenario == "verify" else conf)
    return tool.peer.command(inside, "verify" if scenario == "verify" else "mirror")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=["full", "incremental", "noop", "reconcile", "verify", "status"],
                   default="noop")
    p.add_argument("--size", type=int, default=10_000, help="large-mirror size (cached tree; default 10000)")
    p.add_argument("--tool", choices=["ours", "bandersnatch"], default="ours")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--full-projects", type=int, default=400)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path, default=WORK / "profiles")
    args = p.parse_args(argv)
    snapshot = install_snapshot(REPO / "mirror_tool", WORK)
    ours = Ours(WORK / "ours", snapshot, RoleConfigs({"pypi_mirror_workers": args.workers,
                                                      "pypi_mirror_verifiers": args.workers,
                                                      "pypi_mirror_json": True}))
    tools: list[Tool] = [ours]
    if args.tool == "bandersnatch":
        peer = Peer(PEER_ROOT)
        peer.ensure(print)
        tools = [ours, Theirs(peer, ours)]
    tool = tools[-1]
    args.out.mkdir(parents=True, exist_ok=True)
    up: Upstream | None = None
    try:
        up, conf, raw = _scene(args, tools, ours, tool)
        up.set_wan({"profile": "wan"})
        spy = [py_spy(), "record", "--idle", "--subprocesses", "--rate", "250", "-f", "raw", "-o", str(raw), "--"]
        proc = subprocess.run(spy + command(tool, args.scenario, conf), capture_output=True, text=True, check=False)
        print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "")
    finally:
        if up is not None:
            up.stop()
    print(summarize(raw, args.top))
    print(f"\nraw collapsed stacks: {raw}")
    return 0


def _scene(args: argparse.Namespace, tools: list[Tool], ours: Ours, tool: Tool) -> tuple[Upstream, Path, Path]:
    """The upstream and the tool's config, set up like the bench sets up the scenario."""
    raw = args.out / f"{args.scenario}-{args.size if args.scenario != 'full' else args.full_projects}-{tool.short}.txt"
    if args.scenario == "full":
        up = Upstream(projects=args.full_projects, releases=2, files=2, file_size=20_000, pin=True,
                      log_path=args.out / "upstream.log")
        up.warm_corpus()
        tool.remove("profile-full")
        conf = tool.configure("profile-full", tool.tree("profile-full"), up.url)
        return up, conf, raw
    spec = LargeSpec(args.size, pages_only=args.size >= 700_000)
    up = Upstream(pin=True, log_path=args.out / "upstream.log", **spec.upstream_kwargs())
    try:
        mirrors = LargeMirrors(spec, tools, WORK, args.out, print)
        conf = mirrors.ensure(up)[tool.short]
        subprocess.run(command(tool, "noop", conf), capture_output=True, check=False)  # catch up
        if args.scenario == "reconcile" and tool is ours:
            conf = ours.configure(f"{spec.key}-reconcile", ours.tree(spec.key), up.url, pypi_mirror_reconcile_interval=0)
        if args.scenario == "incremental":
            batch = int(mirrors.manifest.doc.get("batches", 0)) + 1
            mirrors.record_batch(batch, changes.apply_batch(up, batch, changes.targets(up)))
        warm(up, {"profile": "wan"})
    except BaseException:
        up.stop()
        raise
    return up, conf, raw


if __name__ == "__main__":
    sys.exit(main())
