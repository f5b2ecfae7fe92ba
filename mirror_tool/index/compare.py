"""Which rows of two PEP 691 JSON root indexes differ, compared as bytes without parsing them.

Why: the daily reconcile compares the upstream's index with the mirror's, 700,000 rows each at
PyPI's size, and almost every row is identical on both sides (`{"name":"X","_last-serial":N}`).
Parsing both into dicts of names cost more CPU than bandersnatch's whole run and hundreds of MB.
Here each side's rows are split out of the document by `bytes.split` and only their hashes are
kept (a set of ints: ~80 bytes a row); the rows that differ, a handful, are then parsed. Two
different rows with equal 64-bit hashes would hide a change until the next reconcile (odds
around 1e-8 per run at 700,000 rows); nothing else depends on the hashes.

Both documents must be written in one fixed style each (compact or Python's default spacing,
no escapes), which `compact_rows` checks; the mirror's rows are rewritten in the upstream's
style first (`Rows.like`). Otherwise (another key order, any other layout) the caller compares
parsed listings instead.
"""

from __future__ import annotations

import re
from itertools import compress
from operator import not_
from typing import Iterator, NamedTuple

_CHUNK = 1 << 20
_ROW_RE = re.compile(rb'\{"name": ?"([^"\\]*)", ?"_last-serial": ?(-?\d+)\}|\{"_last-serial": ?(-?\d+), ?"name": ?"([^"\\]*)"\}')
_FIRST_ROW_RE = re.compile(rb'\{"(name|_last-serial)":( ?)')
_PROJECTS_RE = re.compile(rb'"projects": ?\[')


class Rows(NamedTuple):
    """Where the rows of a root index are: `document[start:end]` holds them without the first
    row's `{` and the last row's `}`; `style` says how each row is written (which key comes
    first, and whether `:` and `,` are followed by a space); `spaced_as` the spacing `chunks`
    gives them (`like`)."""

    document: bytes
    start: int
    end: int
    style: tuple[bool, bool] = (True, False)  # (name first, spaced)
    spaced_as: bool | None = None

    @property
    def empty(self) -> bool:
        return self.start >= self.end

    def chunks(self) -> Iterator[list[bytes]]:
        """The rows (without their outer braces), about a MB of them at a time."""
        doc, pos, end = self.document, self.start, self.end
        sep = b"}, {" if self.style[1] else b"},{"
        respace = self.spaced_as is not None and self.spaced_as != self.style[1]
        while pos < end:
            cut = doc.find(sep, pos + _CHUNK, end) if pos + _CHUNK < end else -1
            stop = end if cut < 0 else cut
            piece = doc[pos:stop]
            if respace:
                piece = piece.replace(b":", b": ").replace(b",", b", ") if self.spaced_as else piece.replace(b": ", b":").replace(b", ", b",")
            yield piece.split(b"}, {" if (self.spaced_as if respace else self.style[1]) else b"},{")
            pos = stop + len(sep)

    def like(self, other: "Rows") -> "Rows | None":
        """These rows as `other`'s style writes them (spacing changed chunk by chunk, never a copy
        of the whole document); None when the key order differs. Exact for the mirror's own
        index: its names (checked project names) hold no `:`, `,` or space."""
        if self.style == other.style or self.empty or other.empty:
            return self
        if self.style[0] != other.style[0]:
            return None
        return self._replace(spaced_as=other.style[1])


def compact_rows(document: bytes) -> Rows | None:
    """The rows of a PEP 691 root index written by a JSON serializer with one fixed style (PyPI's
    compact one, or Python's default `, ` / `: `), judged by its first row; None for any other
    document."""
    found = _PROJECTS_RE.search(document)
    if found is None:
        return None
    start = found.end()
    end = len(document.rstrip())
    if document[end - 2:end] != b"]}":
        return None
    end -= 2
    if start == end:
        return Rows(document, start, end)
    first = _FIRST_ROW_RE.match(document, start)
    row = _ROW_RE.match(document, start)
    if first is None or row is None or document[end - 1:end] != b"}":
        return None
    style = (first[1] == b"name", first[2] == b" ")
    rows = Rows(document, start + 1, end - 1, style)
    # Every separator separates two rows: a name holding one would cut a row in two. A row in
    # another style, or with escapes, fails `parse_row` if it differs (the caller then parses
    # the documents); an identical one is identical whatever it holds.
    separator = b"}, {" if style[1] else b"},{"
    if document.count(separator, start, end) + 1 != document.count(b'"name":', start, end):
        return None
    return rows


def differing_rows(theirs: Rows, mine: Rows) -> tuple[list[bytes], list[bytes]]:
    """(rows only `theirs` has, rows only `mine` has), each row as `{...}` bytes; `mine` must be
    in `theirs`' style (`Rows.like`).
    Every per-row step runs in C (map, compress, set operations): no bytecode per row."""
    held: set[int] = set()
    for chunk in mine.chunks():
        held.update(map(hash, chunk))
    only_theirs: list[bytes] = []
    for chunk in theirs.chunks():
        hashes = list(map(hash, chunk))
        only_theirs += compress(chunk, map(not_, map(held.__contains__, hashes)))
        held.difference_update(hashes)
    only_mine: list[bytes] = []
    if held:
        for chunk in mine.chunks():
            only_mine += compress(chunk, map(held.__contains__, map(hash, chunk)))
    return [b"{%s}" % row for row in only_theirs], [b"{%s}" % row for row in only_mine]


def parse_row(row: bytes) -> tuple[str, int]:
    """(name, serial) of one row `differing_rows` returned."""
    match = _ROW_RE.fullmatch(row)
    if match is None:
        raise ValueError(f"not an index row: {row[:200]!r}")
    if match[1] is not None:
        return match[1].decode("utf-8"), int(match[2])
    return match[4].decode("utf-8"), int(match[3])


__all__ = ["Rows", "compact_rows", "differing_rows", "parse_row"]
