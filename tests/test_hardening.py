"""Issue 13 items 2, 3 and 9: names the filesystem cannot hold, a project whose pages cannot be
written, unreadable state files, and `status` never reaching the disk before its pages."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from mirror_tool.engine.run import run_mirror
from mirror_tool.exitcodes import ExitCode
from mirror_tool.storage.base import Staged
from mirror_tool.storage.filesystem import FilesystemStorage
from tests.support.mirror_env import make_config
from tests.support.tree_check import assert_tree_consistent
from tests.support.upstream_compare import assert_mirror_matches
from tests.test_wrapper_support import run_wrapper, write_config

LONG_NAME = "a" + "b" * 298 + "c"  # 300 bytes: longer than a file name may be (255)


def test_project_name_longer_than_the_filesystem_allows_is_refused(tmp_path: Path, fakepypi, caplog) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    fp.upload(LONG_NAME, "1.0", files=["wheel"])  # the fake cannot tar such a name
    cfg = make_config(tmp_path, fp.base_url)
    caplog.set_level(logging.INFO)
    for _run in range(2):  # the run after it too: nothing is left behind that breaks it
        result = run_mirror(cfg)
        assert result.exit_code == ExitCode.OK, result
        assert result.mirror_serial == fp.last_serial
        assert int((cfg.directory / "status").read_text()) == fp.last_serial
    assert "refused unsafe project name" in caplog.text
    assert LONG_NAME not in {p.name for p in (cfg.directory / "web" / "simple").iterdir()}
    report = assert_tree_consistent(cfg.directory)
    assert LONG_NAME not in report.projects and "foo-bar" in report.projects


def test_a_project_whose_page_cannot_be_written_fails_alone(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url)
    blocker = cfg.directory / "web" / "simple" / "foo-bar"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the project's page directory belongs\n")
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.FAILED, result
    assert list(result.failed) == ["foo-bar"] and "foo-bar" not in result.synced
    assert {"needs-py", "pre-release"} <= set(result.synced)
    state = json.loads((cfg.directory / "state.json").read_text())
    assert "foo-bar" in state["failing"]
    assert "foo-bar" in json.loads((cfg.directory / "todo").read_text())["projects"]
    assert int((cfg.directory / "status").read_text()) < fp.last_serial
    blocker.unlink()
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.OK, result
    assert "foo-bar" in result.synced
    assert_mirror_matches(fp, cfg.directory)


@pytest.mark.parametrize("name", ["status", "todo", "state.json", "stale.json"])
def test_unreadable_core_state_file_is_moved_aside(tmp_path: Path, fakepypi, name: str, caplog) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    fp.upload("Foo.Bar", "3.0")
    garbage = b"\xff\xfe not UTF-8, not JSON \x80"
    (cfg.directory / name).write_bytes(garbage)
    caplog.set_level(logging.WARNING)
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.OK, result
    (aside,) = cfg.directory.glob(f"{name}.corrupt-*")
    assert aside.read_bytes() == garbage
    assert len([r for r in caplog.records if r.getMessage().startswith("Unreadable ")]) == 1
    assert int((cfg.directory / "status").read_text()) == fp.last_serial
    assert_mirror_matches(fp, cfg.directory)


def test_wrapper_state_with_invalid_utf8_does_not_stop_the_run(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    mirror_dir = tmp_path / "mirror"
    conf = write_config(tmp_path / "run.conf", mirror_dir, fakepypi.base_url, wrapper={"log-file": str(tmp_path / "run.log")})
    mirror_dir.mkdir()
    state_file = mirror_dir / "wrapper-state.json"
    state_file.write_bytes(b'{"version": 1, "projects": {"\xff\xfe": {}}}')
    for _run in range(2):
        result = run_wrapper(conf)
        assert result.returncode == ExitCode.OK, (result.stderr, (tmp_path / "run.log").read_text())
    assert json.loads(state_file.read_text())["projects"] == {}
    assert len(list(mirror_dir.glob("wrapper-state.json.corrupt-*"))) == 1
    log = (tmp_path / "run.log").read_text()
    assert log.count("Unreadable wrapper state") == 1 and "Traceback" not in log


def test_unwritable_metrics_file_is_exit_7_after_the_state_is_saved(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    mirror_dir = tmp_path / "mirror"
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the metrics directory belongs\n")
    conf = write_config(tmp_path / "run.conf", mirror_dir, fakepypi.base_url,
                        wrapper={"log-file": str(tmp_path / "run.log"), "metrics-file": str(blocker / "m.prom")})
    result = run_wrapper(conf)
    log = (tmp_path / "run.log").read_text()
    assert result.returncode == ExitCode.STORAGE, log
    assert "Cannot write metrics" in log and "Traceback" not in log and "pypi-mirror-run finished: exit 7" in log
    assert json.loads((mirror_dir / "wrapper-state.json").read_text())["version"] == 1


class RecordingStorage(FilesystemStorage):
    """The filesystem backend, noting every write, removal, commit and flush with the `status`
    the disk holds at that moment."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory / "web", directory / "tmp")
        self.status_file = directory / "status"
        self.events: list[tuple[str, str, str | None]] = []

    def note(self, kind: str, key: str = "") -> None:
        status = self.status_file.read_text().strip() if self.status_file.exists() else None
        self.events.append((kind, key, status))

    def write(self, key: str, data: bytes, content_type: str) -> None:
        self.note("write", key)
        super().write(key, data, content_type)

    def remove(self, key: str) -> bool:
        self.note("remove", key)
        return super().remove(key)

    def flush(self) -> None:
        self.note("flush")
        super().flush()

    def stage(self, key: str, size: int | None) -> Staged:
        staged, storage = super().stage(key, size), self

        class Noted(Staged):
            def write(self, data: bytes | memoryview) -> None:
                staged.write(data)

            def commit(self, sha256: str) -> None:
                staged.commit(sha256)
                storage.note("commit", key)

            def discard(self) -> None:
                staged.discard()

        return Noted()


def _assert_publish_order(events: list[tuple[str, str, str | None]], final_status: str) -> None:
    """Every page written is flushed before `status` changes; every stored file is flushed before
    a page is written after it; nothing is deleted below packages/ before a flush follows the
    last page write."""
    events = [*events, ("end", "", final_status)]
    pages_unflushed = files_unflushed = False
    for index, (kind, key, status) in enumerate(events):
        if index and status != events[index - 1][2]:
            assert not pages_unflushed, f"status became {status} before the pages were flushed: {events[:index + 1]}"
        if kind == "commit":
            files_unflushed = True
        elif kind == "write" and key.startswith("simple/"):
            assert not files_unflushed, f"page {key} written before the files it lists were flushed"
            pages_unflushed = True
        elif kind == "remove" and key.startswith("packages/"):
            assert not pages_unflushed, f"{key} deleted before the pages that dropped it were flushed"
        elif kind == "flush":
            pages_unflushed = files_unflushed = False


def test_status_never_reaches_the_disk_before_the_pages_it_covers(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, workers=1)
    storage = RecordingStorage(cfg.directory)
    assert run_mirror(cfg, storage=storage).exit_code == ExitCode.OK
    first = list(storage.events)
    assert [e for e in first if e[0] == "flush"] and [e for e in first if e[0] == "commit"]
    _assert_publish_order(first, (cfg.directory / "status").read_text().strip())
    fp.upload("Foo.Bar", "3.0")
    fp.remove_release("Foo.Bar", "1.0.0")
    fp.remove_project("Needs_Py")
    storage.events.clear()
    assert run_mirror(cfg, storage=storage).exit_code == ExitCode.OK
    second = list(storage.events)
    assert any(kind == "remove" and key.startswith("packages/") for kind, key, _ in second)
    assert any(kind == "remove" and key == "simple/needs-py/index.html" for kind, key, _ in second)
    _assert_publish_order(second, (cfg.directory / "status").read_text().strip())
    assert int((cfg.directory / "status").read_text()) == fp.last_serial
    assert_mirror_matches(fp, cfg.directory)
