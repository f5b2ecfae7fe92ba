"""SIGKILL at the moments that used to leave orphans, then a NORMAL run: the pending journal lets it
finish what the killed run left (no orphans, `verify` clean), and no page ever lists a missing file.

The run kills itself at a named point (`mirror_tool/crashpoint.py`), so the moment is exact."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mirror_tool.crashpoint import ENV
from tests.support.mirror_env import cli_env, run_cli, write_config
from tests.support.tree_check import assert_no_orphans, assert_tree_consistent, files_on_disk
from tests.support.upstream_compare import assert_mirror_matches


def run_killed_at(point: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`pypi-mirror ARGS` that SIGKILLs itself at `point`; asserts that it did."""
    env = cli_env()
    env[ENV] = point
    res = subprocess.run([sys.executable, "-m", "mirror_tool", *args], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-2000:])
    return res


def verify_counts(conf: Path) -> dict[str, int]:
    res = run_cli("-c", str(conf), "verify", "--json")
    doc = json.loads(res.stdout)
    return {kind: n for kind, n in doc["counts"].items() if n}


def new_files(directory: Path, before: set[str]) -> set[str]:
    return files_on_disk(directory) - before


@pytest.mark.parametrize("worker_mode", ["threads", "processes"])
def test_kill_after_file_committed_then_release_gone_upstream(tmp_path: Path, fakepypi_factory, worker_mode: str) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8, releases=1, files=1)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url, workers=2, worker_mode=worker_mode)
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    before = files_on_disk(directory)
    fp.upload("Foo.Bar", "5.0.0")
    run_killed_at("file-committed", "-c", str(conf), "mirror")
    assert_tree_consistent(directory)
    stored = new_files(directory, before)
    assert stored and all("5.0.0" in name for name in stored)  # stored, listed by no page
    fp.remove_release("Foo.Bar", "5.0.0")  # upstream takes the release back before the next run
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == 0, res.stderr
    assert_mirror_matches(fp, directory)
    assert_no_orphans(directory)
    assert verify_counts(conf) == {}
    assert not list((directory / "pending").iterdir())


def test_kill_before_pages_then_project_gone_upstream(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8, releases=1, files=2)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url)
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    before = files_on_disk(directory)
    fp.upload("Brand_New", "1.0")
    fp.upload("Foo.Bar", "5.0.0")
    run_killed_at("pages-publishing", "-c", str(conf), "mirror")  # files durable, no page yet
    assert_tree_consistent(directory)
    assert len(new_files(directory, before)) >= 4
    fp.remove_project("Brand_New")
    fp.remove_release("Foo.Bar", "5.0.0")
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == 0, res.stderr
    assert_mirror_matches(fp, directory)
    assert_no_orphans(directory)
    assert verify_counts(conf) == {}


def test_kill_before_dropped_files_are_deleted(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8, releases=2, files=2)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url)
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    version = next(iter(fp.project("Foo.Bar")["releases"]))
    fp.remove_release("Foo.Bar", version)
    fp.remove_project("Needs_Py")
    run_killed_at("files-deleting", "-c", str(conf), "mirror")  # pages durable, files still there
    report = assert_tree_consistent(directory)
    assert "needs-py" not in report.root_projects
    res = run_cli("-c", str(conf), "mirror")  # nothing new upstream: a normal incremental run
    assert res.returncode == 0, res.stderr
    assert_mirror_matches(fp, directory)
    assert_no_orphans(directory)
    assert verify_counts(conf) == {}
    assert "Finished what an interrupted run left" in res.stderr
    assert not (directory / "pending-deletions.json").exists()


def test_kill_during_delete_is_finished_by_the_next_sync(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8, releases=1, files=2)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url)
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    run_killed_at("files-deleting", "-c", str(conf), "delete", "Foo.Bar")
    assert "foo-bar" not in assert_tree_consistent(directory).root_projects
    assert run_cli("-c", str(conf), "mirror").returncode == 0  # nothing changed upstream
    assert_no_orphans(directory)
    assert verify_counts(conf) == {}


def test_files_from_the_download_mirror_are_journaled_and_listed_in_the_diff_file(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    """Every store of a sync goes through one place: a file fetched from `download-mirror` is on
    the journal before it is stored (a kill leaves no orphan the next run keeps), and on the
    `diff-file` list once its page is published."""
    master, near = fakepypi_factory(projects=6, releases=1, files=1), fakepypi_factory(projects=6, releases=1, files=1)
    directory = tmp_path / "mirror"
    diff = tmp_path / "written"
    conf = write_config(tmp_path / "m.conf", directory, master.base_url, download_mirror=near.base_url,
                        diff_file=str(diff))
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    before = files_on_disk(directory)
    for fp in (master, near):  # the same release on both: the same bytes at the same path
        fp.upload("Foo.Bar", "5.0.0")
    master.clear_log()
    near.clear_log()
    run_killed_at("file-committed", "-c", str(conf), "mirror")
    stored = new_files(directory, before)
    assert len(stored) == 1 and "5.0.0" in next(iter(stored))
    assert [r["path"] for r in near.requests() if r["path"].startswith("/packages/")]
    assert not [r for r in master.requests() if r["path"].startswith("/packages/")]
    noted = json.loads((directory / "pending" / "foo-bar").read_text())["keys"]
    assert any(key.endswith(Path(next(iter(stored))).name) for key in noted)
    master.remove_release("Foo.Bar", "5.0.0")  # upstream takes it back before the next run
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == 0, res.stderr
    assert_mirror_matches(master, directory)
    assert_no_orphans(directory)
    assert not list((directory / "pending").iterdir())
    assert "5.0.0" not in diff.read_text()
    master.upload("Foo.Bar", "6.0.0")
    near.upload("Foo.Bar", "6.0.0")
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    listed = diff.read_text().split("\n")
    assert {Path(p).name for p in listed if "/packages/" in p} == {Path(p).name for p in new_files(directory, before)}
    assert not list((directory / "pending").iterdir())
