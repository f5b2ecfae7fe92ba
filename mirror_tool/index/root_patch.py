"""Apply a run's few changes to the published root index without reading it into objects.

Why: on a mirror of PyPI's size the root index is 700,000 entries (three files of ~40 MB). An
incremental run changes a few dozen of them, yet rendering the index again meant parsing the
38 MB JSON page, building an entry per project and normalizing every name first: seconds of CPU
and hundreds of MB at every checkpoint, growing with the mirror instead of with the changes.
The pages `render.root_html` / `render.root_json` write hold one entry per project, sorted by
normalized name, so an entry is found by bisecting the bytes (about 20 probes) and the new page
is the old one with a few slices replaced: the cost is copying the bytes once.

`patch_root_json` / `patch_root_html` return None when a page does not have the layout these
renderers write (another tool's page, a hand edit): the caller then renders the index in full.
The result is byte for byte what rendering the patched index in full gives (tests compare them).
"""

from __future__ import annotations

import html
import re
from typing import Callable, Mapping

from mirror_tool.index.read import IndexEntry
from mirror_tool.names import normalize
from mirror_tool.storage import keys
from mirror_tool.storage.base import Storage

#: A pending change of the root index: the new entry, or None when the project leaves it.
Change = IndexEntry | None

_JSON_HEAD_RE = re.compile(rb'\{"meta":\{"api-version":"([0-9.]+)","_last-serial":(-?\d+)\},"projects":\[')
#: The start of `index.v1_json` as `render.root_json` writes it; group 1 is the index's serial.
ROOT_SERIAL_RE = re.compile(rb'\{"meta":\{"api-version":"[0-9.]+","_last-serial":(-?\d+)\}')
_JSON_ENTRY_START = b'{"name":"'
_JSON_ENTRY_RE = re.compile(rb'\{"name":"([^"\\]*)","_last-serial":(-?\d+)\}')
_HTML_ENTRY_START = b'    <a href="'
_HTML_ENTRY_RE = re.compile(rb'    <a href="([^"/]*)/">([^<]*)</a><br/>\n')
_HTML_TAIL = b"  </body>\n</html>\n"


class _Layout:
    """How entries of one page look: where one starts, how it parses, how one is written."""

    def __init__(self, start: bytes, entry_re: "re.Pattern[bytes]", key_of: Callable[["re.Match[bytes]"], str],
                 render: Callable[[str, IndexEntry], bytes], separator: bytes) -> None:
        self.start, self.entry_re, self.key_of, self.render, self.separator = start, entry_re, key_of, render, separator


def _json_entry(_norm: str, entry: IndexEntry) -> bytes:
    # What json.dumps(separators=(",", ":")) writes for a valid project name (no escaping needed).
    return b'{"name":"%s","_last-serial":%d}' % (entry.name.encode("ascii"), entry.serial)


def _html_entry(norm: str, entry: IndexEntry) -> bytes:
    return f'    <a href="{norm}/">{html.escape(entry.name)}</a><br/>\n'.encode("utf-8")


_JSON = _Layout(_JSON_ENTRY_START, _JSON_ENTRY_RE, lambda m: normalize(m.group(1).decode("ascii")), _json_entry, b",")
_HTML = _Layout(_HTML_ENTRY_START, _HTML_ENTRY_RE, lambda m: m.group(1).decode("ascii"), _html_entry, b"")


class _Malformed(Exception):
    """The page is not in the layout the renderers write."""


def _entry_at(raw: bytes, layout: _Layout, pos: int, before: int, end: int) -> "re.Match[bytes] | None":
    """The first entry starting in [`pos`, `before`) (entries end by `end`), None when there is none."""
    start = raw.find(layout.start, pos, min(before + len(layout.start) - 1, end))
    if start < 0 or start >= before:
        return None
    match = layout.entry_re.match(raw, start, end)
    if match is None:
        raise _Malformed(start)
    return match


def _lower_bound(raw: bytes, layout: _Layout, key: str, lo: int, hi: int) -> int:
    """Offset of the first entry (in [lo, hi)) whose key is >= `key`; `hi` when there is none.
    Entries starting before `lo` have smaller keys, those starting at `hi` or later not. The
    offset may be that of the separator before the entry."""
    hi_end = hi
    while lo < hi:
        mid = (lo + hi) // 2
        match = _entry_at(raw, layout, mid, hi, hi_end)
        if match is None:
            hi = mid
        elif layout.key_of(match) < key:
            lo = match.end()
        else:
            hi = match.start()
    return lo


def _splice(raw: bytes, layout: _Layout, body_start: int, body_end: int, changes: Mapping[str, Change]) -> bytes | None:
    """The entries between `body_start` and `body_end` with `changes` applied; None when nothing
    changes (every entry already as given)."""
    pieces: list[bytes] = []
    cursor = body_start
    touched = False
    for key in sorted(changes):
        change = changes[key]
        pos = _lower_bound(raw, layout, key, cursor, body_end)
        match = _entry_at(raw, layout, pos, body_end, body_end)  # no entry starts between pos and it
        found = match is not None and layout.key_of(match) == key
        new = layout.render(key, change) if change is not None else None
        if found and new == raw[match.start():match.end()]:  # type: ignore[union-attr]
            continue
        if not found and change is None:
            continue
        touched = True
        pieces.append(raw[cursor:pos].strip(layout.separator) if layout.separator else raw[cursor:pos])
        if new is not None:
            pieces.append(new)
        cursor = match.end() if found else pos  # type: ignore[union-attr]
    if not touched:
        return None
    pieces.append(raw[cursor:body_end].strip(layout.separator) if layout.separator else raw[cursor:body_end])
    return layout.separator.join(p for p in pieces if p)


def patch_root_json(raw: bytes, changes: Mapping[str, Change], serial: int) -> bytes | None:
    """`index.v1_json` with `changes` applied and carrying `serial`; None: not our layout."""
    head = _JSON_HEAD_RE.match(raw)
    if head is None or not raw.endswith(b"]}"):
        return None
    body_start, body_end = head.end(), len(raw) - 2
    try:
        body = _splice(raw, _JSON, body_start, body_end, changes)
    except _Malformed:
        return None
    if body is None:
        body = raw[body_start:body_end]
    return b'{"meta":{"api-version":"%s","_last-serial":%d},"projects":[%s]}' % (head.group(1), serial, body)


def patch_root_html(raw: bytes, changes: Mapping[str, Change]) -> bytes | None:
    """`index.html` with `changes` applied; `raw` itself when no entry changes (serials are not
    on the HTML page); None: not our layout."""
    first = raw.find(_HTML_ENTRY_START)
    body_end = len(raw) - len(_HTML_TAIL)
    if not raw.endswith(_HTML_TAIL) or not raw[:first if first >= 0 else body_end].rstrip().endswith(b"<body>"):
        return None
    body_start = first if first >= 0 else body_end
    try:
        body = _splice(raw, _HTML, body_start, body_end, changes)
    except _Malformed:
        return None
    if body is None:
        return raw
    return raw[:body_start] + body + _HTML_TAIL


def published_serial(storage: Storage) -> int | None:
    """The serial the published `index.v1_json` carries, read from its first bytes (None: no
    such page, or not in our layout)."""
    raw = storage.read(keys.root_page(keys.JSON_PAGE))
    match = ROOT_SERIAL_RE.match(raw) if raw is not None else None
    return int(match.group(1)) if match else None


def patch_published(storage: Storage, fmt: str, changes: Mapping[str, Change], serial: int,
                    write: Callable[[str, bytes, str], None], html_type: str, json_type: str) -> bool:
    """Patch the published root pages of `simple-format` `fmt` in place through `write` (key,
    bytes, content type), one page in memory at a time, the JSON page first; False when one of
    them is missing or not in our layout (the caller then renders them all in full)."""
    try:
        if fmt in ("ALL", "JSON"):
            raw = storage.read(keys.root_page(keys.JSON_PAGE))
            patched = patch_root_json(raw, changes, serial) if raw is not None else None
            del raw
            if patched is None:
                return False
            write(keys.root_page(keys.JSON_PAGE), patched, json_type)
            del patched
        if fmt in ("ALL", "HTML"):
            raw = storage.read(keys.root_page(keys.HTML_PAGE))
            page = patch_root_html(raw, changes) if raw is not None else None
            if page is None:
                return False
            v1 = storage.stat(keys.root_page(keys.HTML_V1_PAGE))
            if page is not raw or v1 is None or v1.size != len(raw):
                del raw
                write(keys.root_page(keys.HTML_V1_PAGE), page, html_type)
                write(keys.root_page(keys.HTML_PAGE), page, html_type)
    except (UnicodeError, ValueError):
        return False
    return True


__all__ = ["ROOT_SERIAL_RE", "Change", "patch_published", "patch_root_html", "patch_root_json", "published_serial"]
