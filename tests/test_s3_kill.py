"""SIGKILL at random points of syncs into a bucket, each followed by a consistent bucket.

The same promise as on disk (tests/test_mirror_kill.py): whenever the mirror dies, no page lists
an object that is missing or whose bytes differ from the page's sha256, the root index lists no
project without pages, and the next run resumes from `todo` and reclaims what a kill left. The kill points (counted in file requests
the upstream served, drawn from a seeded generator whose seed is in the assertion messages) fall in
full and incremental syncs.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

from mirror_tool.exitcodes import ExitCode
from tests.support.bucket import bucket_mirror, snapshot, unfinished_uploads
from tests.support.mirror_env import popen_cli, run_cli
from tests.support.swift import Swift
from tests.support.tree_check import assert_tree_consistent
from tests.support.upstream_compare import assert_mirror_matches, assert_only_listed_files

SEED = 20261130
PREFIX = "m1/"


def package_requests(fp) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in fp.requests() if r["path"].startswith("/packages/"))


def run_and_kill_after(conf: Path, fp, files: int) -> bool:  # type: ignore[no-untyped-def]
    """Start `mirror`, SIGKILL it once the upstream has served `files` more file requests;
    whether it was still running then.

    Why counted, not timed: a kill point in seconds lands after the end of a run on a fast or
    idle machine and before its start on a loaded one; a kill point in the run's own progress
    lands inside it on every machine.
    """
    start = package_requests(fp)
    proc = popen_cli("-c", str(conf), "mirror")
    try:
        deadline = time.monotonic() + 120
        while package_requests(fp) - start < files:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        return proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


def test_sigkill_at_random_points_then_resume(tmp_path: Path, swift: Swift, swift_bucket: str,
                                              fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    fp = fakepypi_factory(projects=24, releases=2, files=2)
    fp.add_fault("latency", prefix="/packages/", latency=0.02)
    conf = bucket_mirror(tmp_path, swift, swift_bucket, fp.base_url, workers=2, json=True)
    local = tmp_path / "mirror"

    def consistent(after: str, settled: bool) -> Path:
        """Every page lists only objects that exist with its sha256. A killed run may have
        written one format's root index and not yet the other: they agree only when `settled`."""
        copy = snapshot(swift, swift_bucket, PREFIX, tmp_path / "snapshot", status_from=local)
        try:
            assert_tree_consistent(copy, settled=settled)
        except AssertionError as exc:
            raise AssertionError(f"seed {SEED}, {after}: {exc}") from exc
        return copy

    kills = 0
    # 96 files in all; four kills of at most 15 file requests each land inside a run
    for point in (rng.randint(1, 15) for _ in range(4)):
        killed = run_and_kill_after(conf, fp, point)
        kills += killed
        consistent(f"full sync killed after {point} file requests", settled=not killed)
        if killed:  # its work is in todo, or it had finished it (status written), or not begun it
            state = sorted(p.name for p in local.iterdir()) if local.exists() else []
            assert "todo" in state or "status" in state or state in ([], [".lock"]), \
                f"seed {SEED}, killed after {point} file requests: {state}"
    done = run_cli("-c", str(conf), "mirror", timeout=300)
    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    copy = consistent("the run after the kills", settled=True)
    assert_only_listed_files(copy, assert_mirror_matches(fp, copy))  # a normal run after kills: no orphans
    assert unfinished_uploads(swift, swift_bucket, PREFIX) == []

    # incremental: uploads, removed releases and projects, killed at random points, resumed
    names = sorted(n for n, info in fp.projects().items() if len(info["releases"]) >= 2)
    for i, norm in enumerate(names[:9]):
        display = fp.project(norm)["name"]
        if i % 3 == 0:
            fp.upload(display, "9.0")
        elif i % 3 == 1:
            fp.remove_release(display, next(iter(fp.project(norm)["releases"])))
        else:
            fp.remove_project(display)
    for point in (1, 1):  # three uploads: a handful of files, so the first file request each time
        killed = run_and_kill_after(conf, fp, point)
        kills += killed
        consistent(f"incremental sync killed after {point} file request", settled=not killed)
    assert kills >= 3, f"seed {SEED}: most kill points must land inside a run"
    done = run_cli("-c", str(conf), "mirror", timeout=300)
    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    copy = consistent("the incremental run after the kills", settled=True)
    report = assert_mirror_matches(fp, copy)
    # Whatever a kill left (objects stored for a page never published, objects a published page
    # dropped), the pending journal on local disk let the next run reclaim it: no orphans.
    assert_only_listed_files(copy, report)
