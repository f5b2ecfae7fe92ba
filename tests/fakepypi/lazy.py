"""Lazily generated index projects, so the index can reach Warehouse's size (700,000 projects).

Why lazy: materialising 700k project objects (let alone their files) would blow the 1 GB memory
budget; instead project ``i`` is a pure function of ``i``. Each one has a single release
``1.0.0`` with one pure wheel and the four journal rows Warehouse writes for a first upload, with
serials ``4i+1 .. 4i+4``, all below the explicit corpus's serials. These projects are read-only.
"""

from __future__ import annotations

import re

from .wheels import ArchiveSpec

ROWS_PER_PROJECT = 4
LAZY_VERSION = "1.0.0"
_LAZY_RE = re.compile(r"^lazy-pkg-(\d{7})$")
OWNER = "fakeuser"


class LazyProjects:
    """The read-only projects ``0 .. count-1`` of the big index."""

    def __init__(self, count: int, seed: int, file_size: int, base_time: int) -> None:
        self.count = max(0, count)
        self.seed = seed
        self.file_size = file_size
        self.base_time = base_time

    @property
    def max_serial(self) -> int:
        return self.count * ROWS_PER_PROJECT

    @staticmethod
    def display(i: int) -> str:
        return f"Lazy_Pkg.{i:07d}"

    @staticmethod
    def normalized(i: int) -> str:
        return f"lazy-pkg-{i:07d}"

    def parse(self, normalized: str) -> int | None:
        """Index of a lazy project from its normalized name, None if it is not one."""
        match = _LAZY_RE.match(normalized)
        if not match:
            return None
        i = int(match[1])
        return i if i < self.count else None

    @staticmethod
    def first_serial(i: int) -> int:
        return i * ROWS_PER_PROJECT + 1

    @staticmethod
    def last_serial(i: int) -> int:
        return i * ROWS_PER_PROJECT + ROWS_PER_PROJECT

    def visible_count(self, at: int) -> int:
        """How many lazy projects existed at serial ``at`` (project i is created at 4i+1)."""
        if at <= 0:
            return 0
        return min(self.count, (at + ROWS_PER_PROJECT - 1) // ROWS_PER_PROJECT)

    def spec(self, i: int) -> ArchiveSpec:
        return ArchiveSpec(
            name=self.display(i),
            version=LAZY_VERSION,
            kind="wheel",
            tag="py3-none-any",
            size=self.file_size,
            seed=(self.seed * 1_000_003 + i) & 0xFFFFFFFF,
            requires_python=None,
            summary=f"Lazily generated index project {i}",
        )

    def timestamp(self, serial: int) -> int:
        return self.base_time + serial

    def rows(self, since: int, limit: int) -> list[tuple[str, str | None, int, str, int]]:
        """Synthesised changelog rows with ``since < serial <= max_serial``, at most ``limit``."""
        out: list[tuple[str, str | None, int, str, int]] = []
        serial = max(since, 0) + 1
        end = min(self.max_serial, since + limit) if limit >= 0 else self.max_serial
        while serial <= end:
            i, step = divmod(serial - 1, ROWS_PER_PROJECT)
            name = self.display(i)
            ts = self.timestamp(serial)
            if step == 0:
                out.append((name, None, ts, "create", serial))
            elif step == 1:
                out.append((name, None, ts, f"add Owner {OWNER}", serial))
            elif step == 2:
                out.append((name, LAZY_VERSION, ts, "new release", serial))
            else:
                out.append((name, LAZY_VERSION, ts, f"add py3 file {self.spec(i).filename}", serial))
            serial += 1
        return out
