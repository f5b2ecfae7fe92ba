"""The journal: Warehouse's append-only change log, the source of every serial.

Why a journal rather than counters: mirrors are driven by ``changelog_since_serial`` and by
``X-PyPI-Last-Serial``; both must agree with each other and with history (a project's last serial
is the highest journal id carrying its name, and rows keep the display name used at the time), and
stale CDN pages are rendered "as of serial S", which needs the full history.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from typing import Callable

from .lazy import LazyProjects
from .names import normalize

Row = tuple[str, "str | None", int, str, int]  # name, version, timestamp, action, serial


@dataclass(frozen=True)
class JournalEntry:
    serial: int
    name: str
    version: str | None
    timestamp: int
    action: str

    def as_row(self) -> Row:
        return (self.name, self.version, self.timestamp, self.action, self.serial)


class Journal:
    """Explicit rows start right after the lazily synthesised ones (see ``lazy.py``)."""

    def __init__(self, lazy: LazyProjects, clock: Callable[[], float]) -> None:
        self._lazy = lazy
        self._clock = clock
        self._entries: list[JournalEntry] = []
        self._serials_by_name: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    @property
    def first_explicit_serial(self) -> int:
        return self._lazy.max_serial + 1

    @property
    def last_serial(self) -> int:
        with self._lock:
            return self._entries[-1].serial if self._entries else self._lazy.max_serial

    def append(self, name: str, version: str | None, action: str) -> int:
        """Write one row and return its serial."""
        with self._lock:
            serial = (self._entries[-1].serial if self._entries else self._lazy.max_serial) + 1
            self._entries.append(JournalEntry(serial, name, version, int(self._clock()), action))
            self._serials_by_name.setdefault(normalize(name), []).append(serial)
            return serial

    def project_serial(self, normalized: str, at: int | None = None) -> int | None:
        """Highest serial carrying this (normalized) name, optionally as of serial ``at``."""
        lazy_i = self._lazy.parse(normalized)
        if lazy_i is not None:
            last = self._lazy.last_serial(lazy_i)
            if at is None or at >= last:
                return last
            return at if at >= self._lazy.first_serial(lazy_i) else None
        with self._lock:
            serials = self._serials_by_name.get(normalized)
            if not serials:
                return None
            if at is None:
                return serials[-1]
            idx = bisect.bisect_right(serials, at)
            return serials[idx - 1] if idx else None

    def since(self, serial: int, limit: int) -> list[Row]:
        """Rows with ``serial > since``, ascending, at most ``limit`` (lazy rows first)."""
        rows: list[Row] = []
        if serial < self._lazy.max_serial:
            rows = self._lazy.rows(serial, limit)
            if len(rows) >= limit:
                return rows[:limit]
        with self._lock:
            start = max(serial, self._lazy.max_serial) - self._lazy.max_serial  # index into entries
            room = limit - len(rows)
            rows.extend(e.as_row() for e in self._entries[start : start + room])
        return rows

    def entries(self) -> list[JournalEntry]:
        """Explicit entries (for tests and the control API)."""
        with self._lock:
            return list(self._entries)
