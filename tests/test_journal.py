"""The hub's change journal (`web/changes/`): format, entry serials, closing, pruning, restarts.

The writer runs on a real FilesystemStorage with a test clock (the writer takes its clock as an
argument, so retention is crossed without waiting); the end-to-end cases (a hub synced from the
fake upstream) check what a real sync writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mirror_tool.engine.journal import SEGMENT_ENTRIES, JournalWriter
from mirror_tool.engine.run import run_mirror
from mirror_tool.exitcodes import ExitCode
from mirror_tool.index import journal as fmt
from mirror_tool.storage.filesystem import FilesystemStorage
from tests.support.mirror_env import make_config


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def commit(writer: JournalWriter, names: list[str], serial: int | None) -> None:
    """What Publisher.commit does around its flush."""
    for name in names:
        writer.record(name)
    writer.stage()
    writer.publish(serial)


def head(web: Path) -> dict:
    return json.loads((web / fmt.HEAD).read_text())


def segments(web: Path) -> dict:
    return json.loads((web / fmt.SEGMENTS).read_text())


def rows(web: Path, entry: dict) -> list[tuple[int, str]]:
    return fmt.parse_lines((web / fmt.DIRECTORY / entry["name"]).read_bytes())


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemStorage:
    store = FilesystemStorage(tmp_path / "web", tmp_path / "tmp")
    store.prepare()
    return store


def test_a_new_journal_starts_at_the_commit_serial_without_entries(storage, tmp_path) -> None:
    clock = Clock()
    writer = JournalWriter(storage, 3600, clock)
    commit(writer, ["Foo.Bar"], 100)
    web = tmp_path / "web"
    h = head(web)
    assert (h["serial"], h["since"], h["published"]) == (100, 100, clock.now)
    assert segments(web) == {"version": 1, "id": h["id"], "since": 100, "segments": []}


def test_entries_carry_the_previous_head_plus_one(storage, tmp_path) -> None:
    """An entry's serial is where its change may start: head before the commit + 1, so a replica
    at serial r applies exactly the entries above r (docs/design.md)."""
    clock = Clock()
    writer = JournalWriter(storage, 3600, clock)
    commit(writer, [], 100)
    commit(writer, ["Foo.Bar", "dup.name"], 105)
    clock.now += 1
    commit(writer, ["needs-py"], 105)  # status did not move: the entry still starts above 105
    commit(writer, ["Foo.Bar"], 110)
    web = tmp_path / "web"
    listing = segments(web)
    assert len(listing["segments"]) == 1
    (open_segment,) = listing["segments"]
    assert open_segment["name"] == "0000000001.open.txt" and open_segment["closed"] is None
    assert rows(web, open_segment) == [(101, "Foo.Bar"), (101, "dup.name"), (106, "needs-py"), (106, "Foo.Bar")]
    assert (open_segment["first"], open_segment["last"], open_segment["entries"]) == (101, 106, 4)
    assert head(web)["serial"] == 110


def test_head_published_moves_with_the_serial_checked_with_every_confirmation(storage, tmp_path) -> None:
    clock = Clock()
    writer = JournalWriter(storage, 3600, clock)
    commit(writer, [], 100)
    first = clock.now
    clock.now += 120
    commit(writer, [], 100)  # an idle run confirms the head
    h = head(tmp_path / "web")
    assert (h["published"], h["checked"]) == (first, first + 120)
    clock.now += 5
    commit(writer, ["a"], 101)
    h = head(tmp_path / "web")
    assert h["published"] == h["checked"] == first + 125


def test_a_full_or_old_segment_closes_and_closed_names_never_change(storage, tmp_path) -> None:
    clock = Clock()
    web = tmp_path / "web"
    writer = JournalWriter(storage, 8 * 3600, clock)
    commit(writer, [], 1)
    commit(writer, [f"p{i}" for i in range(SEGMENT_ENTRIES)], 2)
    commit(writer, ["late"], 3)  # does not fit: the first segment closes, a second one opens
    listing = segments(web)
    assert [s["name"] for s in listing["segments"]] == ["0000000001.txt", "0000000002.open.txt"]
    assert not (web / "changes/0000000001.open.txt").exists(), "the open copy of a closed segment is deleted"
    closed_bytes = (web / "changes/0000000001.txt").read_bytes()
    assert len(fmt.parse_lines(closed_bytes)) == SEGMENT_ENTRIES
    clock.now += 3600  # an hour later the open segment closes even with few entries
    commit(writer, ["later"], 4)
    listing = segments(web)
    assert [s["name"] for s in listing["segments"]] == ["0000000001.txt", "0000000002.txt", "0000000003.open.txt"]
    assert (web / "changes/0000000001.txt").read_bytes() == closed_bytes
    assert rows(web, listing["segments"][1]) == [(3, "late")]


def test_pruning_drops_closed_segments_past_the_retention_and_raises_since(storage, tmp_path) -> None:
    clock = Clock()
    web = tmp_path / "web"
    writer = JournalWriter(storage, 400, clock)  # segments close after 100 s (a quarter)
    commit(writer, [], 10)
    commit(writer, ["a"], 12)         # entry 11
    clock.now += 150
    commit(writer, ["b"], 15)         # closes segment 1 (old), entry 13 opens segment 2
    assert segments(web)["since"] == 10
    clock.now += 300                  # segment 1 closed 300 s ago: kept
    commit(writer, [], 15)
    assert [s["seq"] for s in segments(web)["segments"]] == [1, 2]
    clock.now += 101                  # now 401 s: segment 1 goes; segment 2 is closed by this commit
    commit(writer, [], 15)
    listing, h = segments(web), head(web)
    assert [s["seq"] for s in listing["segments"]] == [2]
    assert listing["since"] == h["since"] == 11, "entries above 11 are all still there"
    assert not (web / "changes/0000000001.txt").exists()
    clock.now += 401
    commit(writer, [], 15)
    assert segments(web)["segments"] == [] and head(web)["since"] == 13


def test_zero_retention_writes_no_journal(storage, tmp_path) -> None:
    writer = JournalWriter(storage, 0, Clock())
    commit(writer, ["a"], 5)
    assert not (tmp_path / "web/changes").exists()


def test_a_damaged_journal_starts_again_with_a_new_id(storage, tmp_path) -> None:
    web = tmp_path / "web"
    commit(JournalWriter(storage, 3600, Clock()), [], 50)
    old = head(web)["id"]
    commit(JournalWriter(storage, 3600, Clock()), ["a"], 52)
    (web / fmt.SEGMENTS).write_text("{not json")
    writer = JournalWriter(storage, 3600, Clock())
    commit(writer, ["b"], 53)
    h = head(web)
    assert h["id"] != old and h["serial"] == h["since"] == 53
    assert segments(web)["segments"] == [] and segments(web)["id"] == h["id"]
    assert sorted(p.name for p in (web / "changes").iterdir()) == ["head.json", "segments.json"]


def test_a_serial_going_down_restarts_the_journal(storage, tmp_path) -> None:
    web = tmp_path / "web"
    writer = JournalWriter(storage, 3600, Clock())
    commit(writer, [], 50)
    commit(writer, ["a"], 60)
    old = head(web)["id"]
    commit(writer, ["b"], 40)
    h = head(web)
    assert h["id"] != old and (h["serial"], h["since"]) == (40, 40)
    assert segments(web)["segments"] == []


def test_maintenance_commits_keep_the_head_serial(storage, tmp_path) -> None:
    web = tmp_path / "web"
    writer = JournalWriter(storage, 3600, Clock())
    commit(writer, [], 50)
    commit(writer, ["deleted-by-hand"], None)  # `delete` / `verify --delete` commit without a serial
    assert head(web)["serial"] == 50
    assert rows(web, segments(web)["segments"][0]) == [(51, "deleted-by-hand")]


def test_a_sync_writes_entries_for_what_it_published(tmp_path, fakepypi) -> None:
    cfg = make_config(tmp_path, fakepypi.base_url)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    web = cfg.directory / "web"
    first = head(web)
    assert first["serial"] == first["since"] == fakepypi.last_serial
    fakepypi.upload("Foo.Bar", "9.0")
    fakepypi.remove_project("dup.name")
    assert run_mirror(cfg).exit_code == ExitCode.OK
    h = head(web)
    assert h["id"] == first["id"] and h["serial"] == fakepypi.last_serial == int((cfg.directory / "status").read_text())
    (segment,) = segments(web)["segments"]
    assert sorted(rows(web, segment)) == [(first["serial"] + 1, "Foo.Bar"), (first["serial"] + 1, "dup.name")]


def test_journal_lines_refuse_what_is_not_a_project_name() -> None:
    with pytest.raises(ValueError):
        fmt.parse_lines(b"12 ../../etc/passwd\n")
    with pytest.raises(ValueError):
        fmt.parse_lines(b"twelve foo\n")
    assert fmt.parse_lines(b"12 Foo.Bar\n13 x\n") == [(12, "Foo.Bar"), (13, "x")]


def test_files_a_killed_commit_left_are_deleted_by_the_next(storage, tmp_path) -> None:
    """A commit killed between closing a segment and publishing the head leaves the open copy
    behind; no list names it, so the next writer deletes it (after its head)."""
    web = tmp_path / "web"
    commit(JournalWriter(storage, 3600, Clock()), [], 50)
    commit(JournalWriter(storage, 3600, Clock()), ["a"], 51)
    stray = web / "changes/0000000001.txt"
    stray.write_text("51 a\n")
    commit(JournalWriter(storage, 3600, Clock()), [], 51)
    assert not stray.exists()
    assert (web / "changes/0000000001.open.txt").exists(), "the listed open segment stays"
