"""SIGKILL at several points of a sync, then a clean resume; the tree is consistent at every instant."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from mirror_tool.exitcodes import ExitCode
from tests.support.mirror_env import popen_cli, run_cli, write_config
from tests.support.tree_check import assert_tree_consistent
from tests.support.upstream_compare import assert_mirror_matches, assert_only_listed_files


def run_and_kill(conf: Path, after_lines: int, marker: str = "Syncing package") -> bool:
    """Start `mirror`, SIGKILL it once `after_lines` log lines containing `marker` appeared.

    Returns whether it was killed (False: the run ended before that many lines).
    """
    proc = popen_cli("-c", str(conf), "mirror")
    assert proc.stderr is not None
    seen = 0
    killed = False
    for line in proc.stderr:
        if marker in line:
            seen += 1
            if seen >= after_lines:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
    proc.wait(timeout=60)
    proc.stderr.close()
    assert proc.stdout is not None
    proc.stdout.close()
    return killed and proc.returncode == -signal.SIGKILL


class Observer(threading.Thread):
    """Checks the tree invariant over and over while a sync runs."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        self.directory = directory
        self.stop_event = threading.Event()
        self.checks = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                assert_tree_consistent(self.directory, settled=False)
                self.checks += 1
            except FileNotFoundError:
                continue  # a page replaced between listing and reading: not an inconsistency
            except BaseException as exc:  # noqa: BLE001
                self.error = exc
                return


def test_sigkill_during_full_and_incremental_sync_then_resume(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=24, releases=2, files=2)
    fp.add_fault("latency", prefix="/packages/", latency=0.05)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url, workers=2)
    observer = Observer(directory)
    observer.start()
    try:
        # kill the first (full) sync at several points; each restart resumes from todo
        kills = 0
        for point in (1, 4, 9):
            killed = run_and_kill(conf, point)
            kills += killed
            assert_tree_consistent(directory)
            if killed:
                assert (directory / "todo").exists()
                assert not (directory / "status").exists() or int((directory / "status").read_text()) < fp.last_serial
        # kill right after a checkpoint could have run, then let it finish
        res = run_cli("-c", str(conf), "mirror")
        assert res.returncode == ExitCode.OK, res.stderr
    finally:
        observer.stop_event.set()
        observer.join(timeout=10)
    assert observer.error is None, observer.error
    assert observer.checks > 0
    report = assert_mirror_matches(fp, directory)
    assert_only_listed_files(directory, report)
    assert not (directory / "todo").exists()

    # incremental: uploads, yanks and removals, killed mid-way, resumed
    names = sorted(fp.projects())
    for i, norm in enumerate(names[:10]):
        display = fp.project(norm)["name"]
        if i % 3 == 0:
            fp.upload(display, "9.0")
        elif i % 3 == 1:
            version = next(iter(fp.project(norm)["releases"]))
            fp.remove_release(display, version)
        else:
            fp.remove_project(display)
    for point in (2, 6):
        killed = run_and_kill(conf, point)
        kills += killed
        assert_tree_consistent(directory)
        if killed:
            todo = json.loads((directory / "todo").read_text())
            assert todo["projects"] and todo["target_serial"] == fp.last_serial
    assert kills >= 3  # most kill points were reached (the first of each phase always is)
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.OK, res.stderr
    report = assert_mirror_matches(fp, directory)
    # Whatever a kill left (files stored for a page never published, files a published page
    # dropped), the pending journal let the normal run finish it: no orphans.
    assert_only_listed_files(directory, report)


def test_sigkill_while_publishing_many_small_projects(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    """Killed at the summary line and at random later points: state files stay parseable."""
    fp = fakepypi_factory(projects=12, releases=1, files=1)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url, workers=3)
    run_and_kill(conf, 1, marker="Sync finished")
    assert_tree_consistent(directory)
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.OK, res.stderr
    assert_mirror_matches(fp, directory)
    for name in ("status", "state.json", "stale.json"):
        text = (directory / name).read_text()
        json.loads(text) if name.endswith(".json") else int(text)
