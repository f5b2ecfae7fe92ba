"""The one writer of the published tree: project pages, JSON copies, the root index, removals and
`last-modified`. The sync's checkpoints, `verify --repair/--delete` and `delete` all publish here.

The order is the invariant that keeps every link valid at every instant, whatever is killed when:

1. `publish`: the new files are made durable (`flush`), then the projects' pages and JSON copies
   are replaced; the files the new pages no longer list are noted.
2. `withdraw`: projects leave the root index; their pages and files are noted for removal.
3. `commit`: the root index is written, withdrawn projects' pages and JSON copies are removed,
   everything is flushed, and only then are the noted files deleted. A crash before the deletions
   leaves orphans (`verify --delete` finds them), never a page pointing at a missing file. When
   `commit` returns, what was published is durable: the caller may record `todo` and `status`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence, TypeVar

from mirror_tool.config import MirrorSettings
from mirror_tool.errors import ProjectError
from mirror_tool.index import render
from mirror_tool.index.read import IndexEntry, read_project, read_root_index
from mirror_tool.records import Project
from mirror_tool.storage import keys
from mirror_tool.storage.base import Storage

log = logging.getLogger("mirror_tool.publish")

#: Content types as the disk vhost serves each page (an object store serves what it was given).
HTML = "text/html; charset=utf-8"
V1_HTML = "application/vnd.pypi.simple.v1+html; charset=utf-8"
JSON = "application/vnd.pypi.simple.v1+json"
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Removed:
    """What `commit` deleted: keys of files below `packages/` and the bytes they held."""

    files: list[str] = field(default_factory=list)
    bytes: int = 0


class Publisher:
    """Publishes into `storage` with the page formats and links `settings` ask for."""

    def __init__(self, storage: Storage, settings: MirrorSettings) -> None:
        self.storage = storage
        self.settings = settings
        self._index: dict[str, IndexEntry] | None = None
        self._index_serial: int | None = None
        self._index_dirty = False
        self._unflushed = False
        self._withdrawn: list[str] = []
        self._doomed: dict[str, None] = {}  # file keys to delete at the next commit (ordered set)
        #: Anything was published or removed (`last-modified` is due).
        self.changed = False

    # -- the root index ----------------------------------------------------------------------------
    def index(self) -> dict[str, IndexEntry]:
        """The root index as published (read on first use), with this run's changes."""
        if self._index is None:
            self._index_serial, self._index = read_root_index(self.storage)
        return self._index

    def index_serial(self) -> int | None:
        """The serial the published root JSON index carries (None: no JSON index)."""
        self.index()
        return self._index_serial

    # -- 1. pages --------------------------------------------------------------------------------------
    def publish(
        self,
        projects: list[Project],
        *,
        new_files: bool,
        drop_from_copies: dict[str, set[str]] | None = None,
        prune: bool | None = None,
    ) -> dict[str, str]:
        """Replace the pages (and JSON copies) of `projects`; {normalized: error} of those that
        failed (a name the filesystem refuses fails its project, not the run).

        `new_files`: the projects' files were just stored; they are flushed before any page
        lists them. `drop_from_copies` (maintenance): edit the existing JSON copies, dropping
        these filenames, instead of copying upstream's document. `prune`: delete the files the
        new pages no longer list at the next commit (default: `delete-packages`).
        """
        if not projects:
            return {}
        if new_files:
            self.storage.flush()
        failed: dict[str, str] = {}
        self._unflushed = True
        prune = self.settings.delete_packages if prune is None else prune

        def write(project: Project) -> list[str] | str:
            try:
                return self._write_project(project, (drop_from_copies or {}).get(project.normalized), prune)
            except ProjectError as exc:
                return str(exc)

        for project, outcome in zip(projects, _each(write, projects, self.storage.write_concurrency)):
            if isinstance(outcome, str):
                failed[project.normalized] = outcome
                continue
            self._doomed.update(dict.fromkeys(outcome))
            self.index()[project.normalized] = IndexEntry(project.name, project.serial)
            self._index_dirty = True
            self.changed = True
        return failed

    def _write_project(self, project: Project, drop_from_copies: set[str] | None, prune: bool) -> list[str]:
        """Write one project's pages and JSON copies; the keys of files they no longer list."""
        settings = self.settings
        norm = project.normalized
        old = read_project(self.storage, norm, settings.root_uri) if prune else None
        links = {"release_files": settings.release_files, "root_uri": settings.root_uri}
        copies = keys.json_copies(norm)
        if drop_from_copies is not None:
            for key in copies:
                raw = self.storage.read(key)
                edited = render.json_copy_without(raw, drop_from_copies) if raw is not None else None
                if edited is not None:
                    self.storage.write(key, edited, "application/json")
        elif settings.json and project.raw_json is not None:
            blob = render.json_copy(project.raw_json, project.files, **links)
            for key in copies:
                self.storage.write(key, blob, "application/json")
        fmt = settings.simple_format
        if fmt in ("ALL", "JSON"):
            self.storage.write(keys.project_page(norm, keys.JSON_PAGE), render.project_json(project, **links), JSON)
        if fmt in ("ALL", "HTML"):
            page = render.project_html(project, **links)
            self.storage.write(keys.project_page(norm, keys.HTML_V1_PAGE), page, V1_HTML)
            self.storage.write(keys.project_page(norm, keys.HTML_PAGE), page, HTML)
        # Pages of a kind the config no longer writes would go stale (and could list deleted files).
        unwanted = [keys.project_page(norm, name) for name in _unwanted_pages(fmt)]
        if not settings.json and drop_from_copies is None:
            unwanted += copies
        for key in unwanted:
            self._remove_quietly(key)
        doomed: list[str] = []
        if old is not None and settings.release_files:
            keep = {f.key for f in project.files if f.key} | {keys.metadata(f.key) for f in project.files if f.key and f.has_metadata}
            for f in old.files:
                if f.key and f.key not in keep:
                    doomed.append(f.key)
                    if keys.metadata(f.key) not in keep:
                        doomed.append(keys.metadata(f.key))
        return doomed

    # -- 2. removals ---------------------------------------------------------------------------------
    def withdraw(self, names: Iterable[str], *, delete_files: bool) -> None:
        """Take projects out of the tree at the next `commit` (`delete_files`: their files too)."""
        for norm in names:
            if self.index().pop(norm, None) is not None:
                self._index_dirty = True
            if delete_files:
                old = read_project(self.storage, norm, self.settings.root_uri)
                for f in old.files if old else ():
                    if f.key:
                        self._doomed[f.key] = None
                        self._doomed[keys.metadata(f.key)] = None
            self._withdrawn.append(norm)

    def discard(self, file_keys: Iterable[str]) -> None:
        """Delete files no page lists (orphans) at the next commit."""
        for key in file_keys:
            self._doomed[key] = None

    # -- 3. commit -----------------------------------------------------------------------------------
    def commit(self, serial: int | None = None) -> Removed:
        """Root index (carrying `serial`; None keeps the published one), withdrawn pages, flush,
        then the file deletions. Returns what was deleted."""
        if self._index is not None and (self._index_dirty or not self._root_exists()):
            self._write_root(serial if serial is not None else self._index_serial or 0)
            self._index_dirty = False
        withdrawn, self._withdrawn = self._withdrawn, []
        for norm in withdrawn:
            for key in (*(keys.project_page(norm, name) for name in keys.PAGE_NAMES), *keys.json_copies(norm)):
                self._remove_quietly(key)
                self._unflushed = True
            for info in self.storage.list(f"{keys.SIMPLE}{norm}/"):  # stray temporaries of a killed page write
                self.storage.remove(info.key)
            log.info("Removed package %s", norm)
            self.changed = True
        if self._unflushed or self._doomed:
            self.storage.flush()  # pages durable before the files they dropped go, and before `status`
            self._unflushed = False
        doomed, self._doomed = list(self._doomed), {}
        removed = Removed()

        def delete(key: str) -> int | None:
            """The bytes `key` held when this call removed it; None when it was not there."""
            info = self.storage.stat(key)
            try:
                return info.size if self.storage.remove(key) and info is not None else None
            except ProjectError as exc:
                log.warning("%s", exc)
                return None

        for key, size in zip(doomed, _each(delete, doomed, self.storage.write_concurrency)):
            if size is not None:
                removed.files.append(key)
                removed.bytes += size
                log.info("Deleted %s", key)
        if removed.files:
            self.changed = True
        return removed

    def _write_root(self, serial: int) -> None:
        fmt = self.settings.simple_format
        index = self.index()
        if fmt in ("ALL", "JSON"):
            self.storage.write(keys.root_page(keys.JSON_PAGE), render.root_json(index, serial), JSON)
            self._index_serial = serial
        if fmt in ("ALL", "HTML"):
            page = render.root_html(index)
            self.storage.write(keys.root_page(keys.HTML_V1_PAGE), page, V1_HTML)
            self.storage.write(keys.root_page(keys.HTML_PAGE), page, HTML)
        for name in _unwanted_pages(fmt):
            self._remove_quietly(keys.root_page(name))
        self._unflushed = True

    def _root_exists(self) -> bool:
        return any(self.storage.stat(keys.root_page(name)) is not None for name in (keys.HTML_PAGE, keys.JSON_PAGE))

    def _remove_quietly(self, key: str) -> None:
        try:
            self.storage.remove(key)
        except ProjectError:
            pass

    # -- last-modified -------------------------------------------------------------------------------
    def touch_last_modified(self) -> None:
        """`web/last-modified`: when this mirror's tree last changed (bandersnatch's stamp format)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H:%M:%S")
        self.storage.write(keys.LAST_MODIFIED, (stamp + "\n").encode(), "text/plain; charset=utf-8")


def _each(func: Callable[[T], R], items: Sequence[T], concurrency: int) -> Iterable[R]:
    """`func` over `items`, in order; on `concurrency` threads when the storage gains from it
    (an object store: one round trip per write). Every call has returned when this returns."""
    if concurrency <= 1 or len(items) <= 1:
        return [func(item) for item in items]
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(min(concurrency, len(items)), thread_name_prefix="publish") as pool:
        return list(pool.map(func, items))


def _unwanted_pages(fmt: str) -> tuple[str, ...]:
    return {"HTML": (keys.JSON_PAGE,), "JSON": (keys.HTML_PAGE, keys.HTML_V1_PAGE)}.get(fmt, ())


__all__ = ["Publisher", "Removed"]
