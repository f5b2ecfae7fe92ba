"""The root index as one run sees it: the published pages plus this run's changes.

Why its own object: on a mirror of PyPI's size the root index is 700,000 entries, and an
incremental run changes a few dozen. Publishing and withdrawing only `note` their changes here;
`write` patches them into the published pages (index/root_patch.py), so nothing reads the whole
index unless whole-tree work asks for it (`entries`: a reconcile's fallback, adoption, delete,
verify --delete). A reconcile and verify read it in the cheapest form they can use (`rows`,
`document`, `names`). The `Publisher` decides when `write` runs (its commit order).
"""

from __future__ import annotations

from typing import Callable, Iterator

from mirror_tool.config import MirrorSettings
from mirror_tool.errors import ProjectError
from mirror_tool.index import render
from mirror_tool.index.read import IndexEntry, read_root_index, root_rows
from mirror_tool.index.root_patch import Change, patch_published, published_serial
from mirror_tool.names import normalize
from mirror_tool.storage import keys
from mirror_tool.storage.base import Storage

HTML, JSON = "text/html; charset=utf-8", "application/vnd.pypi.simple.v1+json"
#: `index.v1_html` as the disk vhost serves it (an object store serves the type it was given).
V1_HTML = "application/vnd.pypi.simple.v1+html; charset=utf-8"


class RootIndex:
    """Reads and writes `simple/index.*` for a `Publisher` (`write_page`: its recorded write)."""

    def __init__(self, storage: Storage, settings: MirrorSettings, write_page: Callable[[str, bytes, str], None]) -> None:
        self.storage = storage
        self.settings = settings
        self._write_page = write_page
        self._entries: dict[str, IndexEntry] | None = None
        self._serial: int | None = None
        #: Entries changed since the pages were last written (None: the project left the index).
        self._changes: dict[str, Change] = {}
        #: The whole index must be rendered again (it was replaced, not edited).
        self._rewrite = False

    @property
    def loaded(self) -> bool:
        return self._entries is not None

    def entries(self) -> dict[str, IndexEntry]:
        """{normalized: entry} as published (read on first use), with this run's changes."""
        if self._entries is None:
            self._serial, self._entries = read_root_index(self.storage)
            for norm, change in self._changes.items():
                _apply(self._entries, norm, change)
        return self._entries

    def serial(self) -> int | None:
        """The serial the published root JSON index carries (None: no JSON index)."""
        self.entries()
        return self._serial

    def note(self, norm: str, change: Change) -> None:
        """Record a change (also in the loaded entries, when they are loaded)."""
        self._changes[norm] = change
        if self._entries is not None:
            _apply(self._entries, norm, change)

    def replace(self, entries: dict[str, IndexEntry]) -> None:
        """Make `entries` the index, rendered in full at the next `write`."""
        self.entries()
        self._entries = dict(entries)
        self._rewrite = True

    def _as_published(self) -> bool:
        """The published pages are the index as this run sees it (nothing noted or loaded yet)."""
        return self._entries is None and not self._changes and not self._rewrite

    def rows(self) -> Iterator[tuple[str, int]]:
        """(display name, serial) of every project, streamed from the published page when it is current."""
        if self._as_published():
            yield from root_rows(self.storage)
            return
        for entry in self.entries().values():
            yield entry.name, entry.serial

    def names(self) -> set[str]:
        """Normalized names (verify: a set of names costs a fifth of the entries it does not need)."""
        if self._as_published():
            return {normalize(name) for name, _serial in root_rows(self.storage)}
        return set(self.entries())

    def document(self) -> bytes | None:
        """The root JSON page as published when it is current; None otherwise (then `rows`)."""
        return self.storage.read(keys.root_page(keys.JSON_PAGE)) if self._as_published() else None

    def due(self) -> bool:
        """`write` has something to do: changes, a replaced index, or loaded entries without pages."""
        if self._changes or self._rewrite:
            return True
        return self._entries is not None and not any(
            self.storage.stat(keys.root_page(name)) is not None for name in (keys.HTML_PAGE, keys.JSON_PAGE))

    def published_serial(self) -> int:
        """The serial the published root JSON index carries (0: none)."""
        if self._entries is not None:
            return self._serial or 0
        published = published_serial(self.storage)
        return published if published is not None else self.serial() or 0

    def _write(self, key: str, data: bytes, content_type: str) -> None:
        if key == keys.root_page(keys.HTML_V1_PAGE):
            content_type = V1_HTML
        self._write_page(key, data, content_type)

    def write(self, serial: int) -> None:
        """The pages with this run's changes: patched in place when the published pages have our
        layout (the cost follows the changes, one page in memory at a time), else rendered in
        full. The HTML pages carry no serials: they are rewritten only when projects come, go or
        are renamed. JSON first, then the HTML pages, as rendering does."""
        fmt = self.settings.simple_format
        if self._rewrite or not patch_published(self.storage, fmt, self._changes, serial, self._write, HTML, JSON):
            index = self.entries()
            if fmt in ("ALL", "JSON"):
                self._write(keys.root_page(keys.JSON_PAGE), render.root_json(index, serial), JSON)
            if fmt in ("ALL", "HTML"):
                page = render.root_html(index)
                self._write(keys.root_page(keys.HTML_V1_PAGE), page, HTML)
                self._write(keys.root_page(keys.HTML_PAGE), page, HTML)
        if fmt in ("ALL", "JSON"):
            self._serial = serial
        for name in {"HTML": (keys.JSON_PAGE,), "JSON": (keys.HTML_PAGE, keys.HTML_V1_PAGE)}.get(fmt, ()):
            try:
                self.storage.remove(keys.root_page(name))
            except ProjectError:
                pass
        self._changes = {}
        self._rewrite = False


def _apply(index: dict[str, IndexEntry], norm: str, change: Change) -> None:
    if change is None:
        index.pop(norm, None)
    else:
        index[norm] = change


__all__ = ["RootIndex"]
