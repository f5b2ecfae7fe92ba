"""The one writer of the published tree: project pages, JSON copies, the root index, removals and
`last-modified`. The sync's checkpoints, `verify --repair/--delete` and `delete` all publish here.

The order is the invariant that keeps every link valid at every instant, whatever is killed when:

1. `publish`: the new files are made durable (`flush`), then the projects' pages and JSON copies
   are replaced; the files the new pages no longer list are noted.
2. `withdraw`: projects leave the root index; their pages and files are noted for removal.
3. `commit`: the root index is written, withdrawn projects' pages and JSON copies are removed,
   everything is flushed, and only then are the noted files deleted. When `commit` returns, what
   was published is durable: the caller may record `todo` and `status`.

With a `PendingJournal` (pending.py) a crash leaves no orphans for long: the deletions are on
record (fsynced) before the pages that drop them are written, the files a sync stored are on
record before it stored them, and `recover` (at the start of the next run) finishes both.
Without one, a crash before the deletions leaves orphans for `verify --delete`; never a page
pointing at a missing file either way.

The change journal replicas follow (`web/changes/`, engine/journal.py) is written in the same
order: its entries before the flush, together with the pages they name; its head after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Iterator

from mirror_tool import crashpoint
from mirror_tool.config import MirrorSettings
from mirror_tool.engine.journal import JournalWriter
from mirror_tool.engine.parallel import each as _each
from mirror_tool.engine.root_index import RootIndex
from mirror_tool.errors import ProjectError
from mirror_tool.index import render
from mirror_tool.index.read import IndexEntry, parse_html_page, parse_json_page, read_html_page, read_project
from mirror_tool.pending import PendingJournal
from mirror_tool.records import Project
from mirror_tool.storage import keys
from mirror_tool.storage.base import Storage

log = logging.getLogger("mirror_tool.publish")

#: Content types as the disk vhost serves each page (an object store serves what it was given).
HTML = "text/html; charset=utf-8"
V1_HTML = "application/vnd.pypi.simple.v1+html; charset=utf-8"
JSON = "application/vnd.pypi.simple.v1+json"


@dataclass
class Removed:
    """What `commit` deleted: keys of files below `packages/` and the bytes they held."""

    files: list[str] = field(default_factory=list)
    bytes: int = 0


class Publisher:
    """Publishes into `storage` with the page formats and links `settings` ask for."""

    def __init__(self, storage: Storage, settings: MirrorSettings, journal: PendingJournal | None = None) -> None:
        self.storage = storage
        self.settings = settings
        self.journal = journal
        self.root = RootIndex(storage, settings, self._write)
        self._unflushed = False
        self._withdrawn: list[str] = []
        self._doomed: dict[str, str] = {}  # file key -> its project ("": none), deleted at the next commit
        self._journaled: set[str] = set()  # keys the deletions journal holds
        self._settled: set[str] = set()  # projects whose pending-files records go after the next commit
        #: Anything was published or removed (`last-modified` is due).
        self.changed = False
        #: Keys written, in order, when a `diff-file` wants them (None: not recorded).
        self.written: list[str] | None = [] if settings.diff_file else None
        #: The change journal under `web/changes/` (not the pending-files `journal`).
        self.changes = JournalWriter(storage, settings.journal_retention, written=self.written)

    def _write(self, key: str, data: bytes, content_type: str) -> None:
        self.storage.write(key, data, content_type)
        if self.written is not None:
            self.written.append(key)

    # -- the root index (engine/root_index.py) ----------------------------------------------------
    def index(self) -> dict[str, IndexEntry]:
        """The root index as published (read on first use), with this run's changes. Only
        whole-tree work needs it: publishing and withdrawing note their changes, and `commit`
        patches them into the published pages."""
        return self.root.entries()

    def rows(self) -> Iterator[tuple[str, int]]:
        """(display name, serial) of every project the root index lists (a reconcile's diff)."""
        return self.root.rows()

    def names(self) -> set[str]:
        """Normalized names of the projects the root index lists (verify)."""
        return self.root.names()

    def root_document(self) -> bytes | None:
        """The root JSON page as published, when it is current (a reconcile's diff)."""
        return self.root.document()

    def replace_index(self, entries: dict[str, IndexEntry]) -> None:
        """Make `entries` the root index, written at the next `commit` (adopting a tree whose root
        index lacks the per-project serials)."""
        self.root.replace(entries)
        self.changed = True

    def index_serial(self) -> int | None:
        """The serial the published root JSON index carries (None: no JSON index)."""
        return self.root.serial()

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
        prune = self.settings.delete_packages if prune is None else prune
        noted = {p.normalized: self.journal.files(p.normalized) if self.journal is not None else set() for p in projects}
        concurrency = self.storage.write_concurrency
        drops = dict(zip((p.normalized for p in projects),
                         _each(lambda p: self._drops(p, prune, noted[p.normalized]), projects, concurrency)))
        self._write_journal({key: norm for norm, keys_ in drops.items() for key in keys_})
        crashpoint.reached("pages-publishing")
        failed: dict[str, str] = {}
        self._unflushed = True

        def write(project: Project) -> str | None:
            try:
                self._write_project(project, (drop_from_copies or {}).get(project.normalized))
                return None
            except ProjectError as exc:
                return str(exc)

        for project, error in zip(projects, _each(write, projects, concurrency)):
            norm = project.normalized
            if error is not None:
                failed[norm] = error
                continue
            self._doomed.update(dict.fromkeys(drops[norm], norm))
            if noted[norm]:
                self._settled.add(norm)
            self.root.note(norm, IndexEntry(project.name, project.serial))
            self.changes.record(project.name)
            self.changed = True
        return failed

    def _drops(self, project: Project, prune: bool, noted: set[str]) -> set[str]:
        """Keys to delete once `project`'s new pages are durable: what its old page listed and the
        new one does not (`prune`), and what a sync `noted` in the journal that neither lists."""
        settings = self.settings
        norm = project.normalized
        prune = prune and settings.release_files
        if not prune and not noted:
            return set()
        old = read_project(self.storage, norm, settings.root_uri)
        keep = _listed(project)
        drops = set()
        if prune and old is not None:
            for f in old.files:
                if f.key and f.key not in keep:
                    drops.add(f.key)
                    if keys.metadata(f.key) not in keep:
                        drops.add(keys.metadata(f.key))
        return drops | (noted - keep - _listed(old))

    def _write_project(self, project: Project, drop_from_copies: set[str] | None) -> None:
        settings = self.settings
        norm = project.normalized
        links = {"release_files": settings.release_files, "root_uri": settings.root_uri}
        style = {**links, "digest": settings.digest_name, "core_metadata": settings.core_metadata}
        copies = keys.json_copies(norm)
        if drop_from_copies is not None:
            for key in copies:
                raw = self.storage.read(key)
                edited = render.json_copy_without(raw, drop_from_copies) if raw is not None else None
                if edited is not None:
                    self._write(key, edited, "application/json")
        elif settings.json and project.raw_json is not None:
            blob = render.json_copy(project.raw_json, project.files, versions=project.versions, **links)
            for key in copies:
                self._write(key, blob, "application/json")
        fmt = settings.simple_format
        pages: dict[str, tuple[bytes, str]] = {}
        if fmt in ("ALL", "JSON"):
            pages[keys.JSON_PAGE] = (render.project_json(project, **style), JSON)
        if fmt in ("ALL", "HTML"):
            page = render.project_html(project, **style)
            pages[keys.HTML_V1_PAGE], pages[keys.HTML_PAGE] = (page, V1_HTML), (page, HTML)
        if settings.keep_index_versions:
            self._keep_versions(project, pages)
        for name, (data, content_type) in pages.items():
            self._write(keys.project_page(norm, name), data, content_type)
        # Pages of a kind the config no longer writes would go stale (and could list deleted files).
        unwanted = [keys.project_page(norm, name) for name in _unwanted_pages(fmt)]
        if not settings.json and drop_from_copies is None:
            unwanted += copies
        for key in unwanted:
            self._remove_quietly(key)

    def _keep_versions(self, project: Project, pages: dict[str, tuple[bytes, str]]) -> None:
        """`keep_index_versions`: a copy of each page under `versions/`, then only the newest N
        (by serial, then time) of each kind are kept. Copies, not symlinks: any storage holds
        them, and nginx's `disable_symlinks` serves them; rolling back is copying one over the page."""
        norm, keep = project.normalized, self.settings.keep_index_versions
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%S.%fZ")
        for name, (data, content_type) in pages.items():
            self._write(keys.page_version(norm, name, max(project.serial, 0), stamp), data, content_type)
        kept: dict[str, list[tuple[int, str, str]]] = {}
        for info in self.storage.list(keys.page_versions_prefix(norm)):
            match = keys.PAGE_VERSION_RE.match(info.key.rsplit("/", 1)[-1])
            if match:
                kept.setdefault(match.group(3), []).append((int(match.group(1)), match.group(2), info.key))
        for copies in kept.values():
            for _serial, _stamp, key in sorted(copies)[:-keep]:
                self._remove_quietly(key)

    # -- 2. removals ---------------------------------------------------------------------------------
    def withdraw(self, names: Iterable[str], *, delete_files: bool) -> None:
        """Take projects out of the tree at the next `commit` (`delete_files`: their files too)."""
        for norm in names:
            if self.changes.enabled:
                self.changes.record(self._display_name(norm))
            self.root.note(norm, None)
            noted = self.journal.files(norm) if self.journal is not None else set()
            old = read_project(self.storage, norm, self.settings.root_uri) if delete_files or noted else None
            for f in old.files if old and delete_files else ():
                if f.key:
                    self._doomed[f.key] = norm
                    self._doomed[keys.metadata(f.key)] = norm
            self._doomed.update(dict.fromkeys(noted - _listed(old), norm))
            if noted:
                self._settled.add(norm)
            self._withdrawn.append(norm)

    def _display_name(self, norm: str) -> str:
        """How the root index (else the page) spells `norm`, without reading the whole index."""
        if self.root.loaded:
            entry = self.index().get(norm)
            return entry.name if entry is not None else norm
        page = read_html_page(self.storage, norm, self.settings.root_uri)  # the JSON page has only `norm`
        if page is not None:
            return page.name
        entry = self.index().get(norm)  # no HTML page (simple-format = JSON): the root index says
        return entry.name if entry is not None else norm

    def discard(self, file_keys: Iterable[str]) -> None:
        """Delete files no page lists (orphans) at the next commit."""
        for key in file_keys:
            self._doomed[key] = ""

    # -- crash recovery --------------------------------------------------------------------------
    def recover(self, queued: set[str]) -> Removed:
        """Finish what a killed run left in the journal: delete each noted key that no page of its
        project lists now (every page format counts: a kill may have left them disagreeing).
        Records of `queued` projects (still in `todo`) wait for their re-sync's publish."""
        if self.journal is None:
            return Removed()
        self.journal.clear_temporaries()
        deletions = self.journal.read_deletions()
        records = [norm for norm in self.journal.projects() if norm not in queued]
        if not deletions and not records:
            return Removed()
        listed: dict[str, set[str]] = {}
        noted = [(key, norm) for key, norm in deletions.items()]
        noted += [(key, norm) for norm in records for key in self.journal.files(norm)]
        for key, norm in noted:
            # Only release files: the journal is a file beside the tree, not a list of pages to remove.
            if key.startswith(keys.PACKAGES) and keys.is_safe(key) and key not in self._listed_anywhere(norm, listed):
                self._doomed[key] = norm
        self._journaled = set(deletions)  # the journal on disk is cleared by the commit below
        self._settled.update(records)
        removed = self.commit()
        log.info("Finished what an interrupted run left: deleted %d files no page lists (%d bytes)",
                 len(removed.files), removed.bytes)
        return removed

    def _listed_anywhere(self, norm: str, cache: dict[str, set[str]]) -> set[str]:
        """Keys (and `.metadata` siblings) that any of `norm`'s pages lists."""
        if norm not in cache:
            found: set[str] = set()
            for name in keys.PAGE_NAMES if norm else ():
                raw = self.storage.read(keys.project_page(norm, name))
                if raw is None:
                    continue
                root_uri = self.settings.root_uri
                page = (parse_json_page(raw, norm, root_uri) if name == keys.JSON_PAGE
                        else parse_html_page(raw.decode("utf-8", "replace"), norm, root_uri))
                for f in page.files if page else ():
                    if f.key:
                        found |= {f.key, keys.metadata(f.key)}
            cache[norm] = found
        return cache[norm]

    def _write_journal(self, planned: dict[str, str] | None = None) -> None:
        """Put the deletions decided so far (and `planned` ones) on record before any page that
        drops them is written or removed."""
        if self.journal is None:
            return
        pending = {**self._doomed, **(planned or {})}
        if pending and not pending.keys() <= self._journaled:
            self.journal.write_deletions(pending)
            self._journaled = set(pending)

    # -- 3. commit -----------------------------------------------------------------------------------
    def commit(self, serial: int | None = None) -> Removed:
        """Root index (carrying `serial`; None keeps the published one), withdrawn pages, flush,
        then the file deletions. Returns what was deleted."""
        self._write_journal()
        if self.root.due():
            self.root.write(serial if serial is not None else self.root.published_serial())
            self._unflushed = True
        withdrawn, self._withdrawn = self._withdrawn, []
        for norm in withdrawn:
            for key in (*(keys.project_page(norm, name) for name in keys.PAGE_NAMES), *keys.json_copies(norm)):
                self._remove_quietly(key)
                self._unflushed = True
            for info in self.storage.list(f"{keys.SIMPLE}{norm}/"):  # stray temporaries of a killed page write
                self.storage.remove(info.key)
            log.info("Removed package %s", norm)
            self.changed = True
        if self.changes.stage():  # entries before the flush: durable with the pages they name
            self._unflushed = True
        if self._unflushed or self._doomed:
            self.storage.flush()  # pages durable before the files they dropped go, and before `status`
            self._unflushed = False
        self.changes.publish(serial)  # the head never names a serial whose pages are not durable
        if self._doomed:
            crashpoint.reached("files-deleting")
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
        if self.journal is not None:
            if self._journaled:
                self.journal.clear_deletions()
                self._journaled = set()
            settled, self._settled = self._settled, set()
            self.journal.forget_files(settled)
        return removed

    def _remove_quietly(self, key: str) -> None:
        try:
            self.storage.remove(key)
        except ProjectError:
            pass

    # -- last-modified -------------------------------------------------------------------------------
    def touch_last_modified(self) -> None:
        """`web/last-modified`: when this mirror's tree last changed (bandersnatch's stamp format)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H:%M:%S")
        self._write(keys.LAST_MODIFIED, (stamp + "\n").encode(), "text/plain; charset=utf-8")


def _listed(page: Project | None) -> set[str]:
    """Keys a page lists: its stored files and the `.metadata` siblings it advertises."""
    found: set[str] = set()
    for f in page.files if page is not None else ():
        if f.key:
            found.add(f.key)
            if f.has_metadata:
                found.add(keys.metadata(f.key))
    return found


def _unwanted_pages(fmt: str) -> tuple[str, ...]:
    return {"HTML": (keys.JSON_PAGE,), "JSON": (keys.HTML_PAGE, keys.HTML_V1_PAGE)}.get(fmt, ())


__all__ = ["Publisher", "Removed"]
