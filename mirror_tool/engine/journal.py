"""The hub's side of the change journal: the Publisher records here what each commit published.

Formats: index/journal.py. The writes are split around the Publisher's flush so that the journal
never gets ahead of the tree:

- `stage()` (before the flush): the commit's entries are appended to the open segment, a full or
  old segment is closed, segments past the retention are dropped from the list, and the segment
  list is rewritten. The flush that follows makes them durable together with the pages they name,
  so an entry a replica can act on always names a page that is on disk, and `status` (written
  after the commit) never covers a change whose entry could be lost.
- `publish(serial)` (after the flush): `head.json` names the serial, then the files no list names
  any more (pruned segments, the open copy of a closed one) are deleted. A replica reading an old
  list may meet a 404 for a deleted segment: it re-reads the list (upstream/hub.py).

An entry's serial is the head serial before this commit plus one (see index/journal.py).
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from mirror_tool.errors import ProjectError
from mirror_tool.index import journal as fmt
from mirror_tool.storage.base import Storage

log = logging.getLogger("mirror_tool.journal")

#: A segment closes at this many entries (a replica re-reads the open one on every run).
SEGMENT_ENTRIES = 4096
#: ... or this old, so pruning works in steps of at most this much (a quarter of short retentions).
SEGMENT_SECONDS = 3600.0
#: An idle hub still confirms its head this often (`checked`), so replicas see it is alive.
CHECK_SECONDS = 60.0


class JournalWriter:
    """The journal of one tree; state is read from storage on first use."""

    def __init__(self, storage: Storage, retention: float, clock: Callable[[], float] = time.time,
                 written: list[str] | None = None) -> None:
        self.storage = storage
        #: The Publisher's list of keys written (`diff-file`): the journal is part of the tree.
        self.written = written
        self.retention = retention
        self.clock = clock
        self._loaded = False
        self._head: fmt.Head | None = None
        self._list = fmt.SegmentList("", 0)
        self._open_text = ""
        self._pending: dict[str, None] = {}
        self._obsolete: list[str] = []  # keys to delete once the head is published
        self._list_dirty = False

    @property
    def enabled(self) -> bool:
        return self.retention > 0

    def record(self, display_name: str) -> None:
        """A project page was published or withdrawn in the commit under way."""
        if self.enabled:
            self._pending[display_name] = None

    # -- before the flush -----------------------------------------------------------------------------
    def stage(self) -> bool:
        """Write this commit's entries, closings and prunings; True when something was written
        (the caller's flush must then follow)."""
        if not self.enabled:
            return False
        self._load()
        names, self._pending = list(self._pending), {}
        if self._head is None:
            return False  # a new journal starts at the serial of this commit, without entries
        now = self.clock()
        self._close_if_due(now, incoming=len(names))
        if names:
            self._append(names, self._head.serial + 1, now)
        self._prune(now)
        if self._list_dirty:
            self._write(fmt.SEGMENTS, self._list.render(), fmt.JSON_TYPE)
            self._list_dirty = False
            return True
        return False

    def _append(self, names: list[str], serial: int, now: float) -> None:
        segments = self._list.segments
        if not segments or segments[-1].closed is not None:
            seq = segments[-1].seq + 1 if segments else 1
            segments.append(fmt.Segment(seq, serial, serial, 0, now))
            self._open_text = ""
        current = segments[-1]
        self._open_text += fmt.render_lines(serial, names)
        current.entries += len(names)
        current.last = serial
        self._write(current.key, self._open_text.encode("utf-8"), fmt.TEXT_TYPE)
        self._list_dirty = True

    def _close_if_due(self, now: float, incoming: int) -> None:
        segments = self._list.segments
        if not segments or segments[-1].closed is not None:
            return
        current = segments[-1]
        span = min(SEGMENT_SECONDS, self.retention / 4)
        if current.entries + incoming <= SEGMENT_ENTRIES and now - current.opened < span:
            return
        open_key = current.key
        current.closed = now
        self._write(current.key, self._open_text.encode("utf-8"), fmt.TEXT_TYPE)
        self._obsolete.append(open_key)
        self._open_text = ""
        self._list_dirty = True

    def _prune(self, now: float) -> None:
        keep = []
        for segment in self._list.segments:
            if segment.closed is not None and segment.closed < now - self.retention:
                self._list.since = max(self._list.since, segment.last)
                self._obsolete.append(segment.key)
                self._list_dirty = True
            else:
                keep.append(segment)
        self._list.segments = keep

    # -- after the flush ------------------------------------------------------------------------------
    def publish(self, serial: int | None) -> None:
        """Name `serial` in the head (None: keep the head's serial), then delete what no list names."""
        if not self.enabled:
            return
        self._load()
        now = self.clock()
        head = self._head
        if head is None or (serial is not None and serial < head.serial):
            if serial is None:
                return  # maintenance on a tree without a journal: nothing to start from
            self._start(serial, now, reason=None if head is None else
                        f"the mirror serial went down from {head.serial} to {serial}")
        else:
            changed = serial is not None and serial > head.serial
            if changed:
                head.serial, head.published = serial, now  # type: ignore[assignment]
            if changed or head.since != self._list.since or now - head.checked >= CHECK_SECONDS or self._obsolete:
                head.checked = now
                head.since = self._list.since
                self._write(fmt.HEAD, head.render(), fmt.JSON_TYPE)
        obsolete, self._obsolete = self._obsolete, []
        for key in obsolete:
            try:
                self.storage.remove(key)
            except ProjectError as exc:
                log.warning("%s", exc)

    def _start(self, serial: int, now: float, reason: str | None) -> None:
        """A journal with a new id, empty from `serial` on. Replicas that followed another id
        reconcile once from the index (the old entries, if any, mean nothing any more)."""
        self._obsolete += [s.key for s in self._list.segments]
        journal_id = fmt.new_id()
        self._list = fmt.SegmentList(journal_id, serial)
        self._open_text = ""
        self._head = fmt.Head(journal_id, serial, now, now, serial)
        self._write(fmt.SEGMENTS, self._list.render(), fmt.JSON_TYPE)
        self._write(fmt.HEAD, self._head.render(), fmt.JSON_TYPE)
        if reason:
            log.warning("%s: the change journal starts again at serial %d", reason, serial)
        else:
            log.info("Change journal started at serial %d", serial)

    def _write(self, key: str, data: bytes, content_type: str) -> None:
        self.storage.write(key, data, content_type)
        if self.written is not None:
            self.written.append(key)

    # -- state ----------------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        raw_head = self.storage.read(fmt.HEAD)
        if raw_head is None:
            return
        try:
            head = fmt.parse_head(raw_head)
            raw_list = self.storage.read(fmt.SEGMENTS)
            if raw_list is None:
                raise ValueError(f"{fmt.SEGMENTS} is missing")
            listing = fmt.parse_segments(raw_list)
            if listing.id != head.id:
                raise ValueError(f"{fmt.SEGMENTS} belongs to journal {listing.id}, the head to {head.id}")
            segments = listing.segments
            if segments and segments[-1].closed is None:
                text = self.storage.read(segments[-1].key)
                if text is None:
                    raise ValueError(f"open segment {segments[-1].key} is missing")
                self._open_text = text.decode("utf-8")
            self._head, self._list = head, listing
            # Files a killed commit left behind (the open copy of a segment it closed, a segment
            # it pruned): nothing lists them, the next head publication deletes them.
            listed = {fmt.HEAD, fmt.SEGMENTS, *(segment.key for segment in segments)}
            self._obsolete += [info.key for info in self.storage.list(fmt.DIRECTORY) if info.key not in listed]
        except ValueError as exc:
            # A damaged journal is started again (new id) at this commit's serial rather than
            # trusted: replicas that followed it reconcile once from the index, which is always right.
            log.warning("Unreadable change journal (%s): it starts again", exc)
            self._obsolete += [info.key for info in self.storage.list(fmt.DIRECTORY)
                               if info.key not in (fmt.HEAD, fmt.SEGMENTS)]


__all__ = ["JournalWriter"]
