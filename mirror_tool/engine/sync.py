"""Sync one project, worker side: fetch it (checking the serial), filter, download and verify.

A worker never publishes: it returns an `Outcome` holding the project as it should be published
(every listed file stored and verified: files.py), and the parent's `Publisher` writes the pages in
checkpoints (publisher.py says why in that order). This keeps the publish order the same whether
projects run on threads or in forked worker processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mirror_tool.config import MirrorSettings
from mirror_tool.engine.files import Stores, stored_files
from mirror_tool.errors import ProjectError, StorageError, UnsafeName
from mirror_tool.exitcodes import ExitCode
from mirror_tool.names import check_project_name
from mirror_tool.records import Project, ReleaseFile
from mirror_tool.stop import StopToken
from mirror_tool.storage import keys
from mirror_tool.net import Stopped
from mirror_tool.storage.base import Storage
from mirror_tool.upstream.client import Upstream

if TYPE_CHECKING:
    from mirror_tool.filters import FilterChain
    from mirror_tool.pending import PendingJournal

log = logging.getLogger("mirror_tool.sync")


@dataclass
class Outcome:
    """Result of one project sync; `kind` is synced | removed | excluded (by the metadata filters:
    withdrawn like a removed project) | stale | failed | stopped | refused."""

    name: str  # normalized
    kind: str
    display_name: str = ""
    serial: int = 0
    expected: int = 0
    error: str = ""
    urls: list[str] = field(default_factory=list)
    project: Project | None = None  # synced: what to publish
    new_files: bool = False  # synced: the project lists files this mirror stores
    files_downloaded: int = 0  # set by a worker process (threads count on the shared Upstream)
    bytes_downloaded: int = 0
    written: list[str] = field(default_factory=list)  # keys this sync stored (downloads): `diff-file`


@dataclass
class SyncContext:
    settings: MirrorSettings
    storage: Storage
    upstream: Upstream
    filters: "FilterChain"
    stop: StopToken
    #: Where a sync notes the keys it may store before storing any (crash recovery; pending.py).
    pending: "PendingJournal | None" = None


def sync_project(ctx: SyncContext, name: str, expected: int) -> Outcome:
    """Bring project `name` to at least serial `expected` (0: whatever upstream serves)."""
    try:
        norm = check_project_name(name)
    except UnsafeName as exc:
        log.error("%s", exc)
        return Outcome(name, "refused", error=str(exc))
    if ctx.stop.stopped:
        return Outcome(norm, "stopped", expected=expected)
    settings = ctx.settings
    log.info("Syncing package: %s (serial %d)", norm, expected)
    urls: list[str] = []
    try:
        attempt = 0
        while True:
            answer = ctx.upstream.project(norm)
            urls += [path for path in answer.paths if path not in urls]
            if answer.serial >= expected or answer.serial < 0:
                break
            log.info("Stale serial for package %s: expected %d, got %d", norm, expected, answer.serial)
            if attempt >= settings.stale_retries:
                display = answer.project.name if answer.project else norm
                return Outcome(norm, "stale", display_name=display, serial=answer.serial, expected=expected, urls=urls)
            if ctx.stop.wait(settings.stale_backoff * (2**attempt)):
                return Outcome(norm, "stopped", expected=expected, urls=urls)
            attempt += 1
        if answer.project is None:
            return Outcome(norm, "removed", serial=answer.serial, expected=expected, urls=urls)
        if not ctx.filters.admits_metadata(answer.project):
            log.info("Package %s is excluded by the metadata filters", norm)
            return Outcome(norm, "excluded", serial=answer.serial, expected=expected, urls=urls)
        admitted = ctx.filters.filter_project(answer.project)
        stores = Stores(ctx, norm, _keyed(norm, admitted.files))
        files = stored_files(ctx, stores)
        if ctx.stop.stopped:
            return Outcome(norm, "stopped", expected=expected, urls=urls)
        project = replace(
            admitted.with_files(files),
            info={},  # only the filters read it; a worker process would pickle it for nothing
            raw_json=admitted.raw_json if settings.json else None,
        )
        return Outcome(norm, "synced", display_name=project.name, serial=project.serial, expected=expected,
                       urls=urls, project=project, new_files=bool(settings.release_files and files),
                       written=stores.written)
    except Stopped:
        return Outcome(norm, "stopped", expected=expected, urls=urls)
    except StorageError:
        raise
    except ProjectError as exc:
        if settings.stop_on_error:  # this worker (and, on threads, the others) takes nothing new
            ctx.stop.set(ExitCode.FAILED)
        return Outcome(norm, "failed", expected=expected, error=str(exc), urls=urls)


def _keyed(norm: str, files: tuple[ReleaseFile, ...]) -> list[ReleaseFile]:
    """Files with their storage keys, sorted by name; a file whose key cannot be made is refused,
    and a second file with the same key is dropped."""
    out: dict[str, ReleaseFile] = {}
    for f in files:
        try:
            key = keys.package(f.filename, f.blake2b_256, f.url)
        except UnsafeName as exc:
            log.error("Refused file %r of package %s: %s", f.filename, norm, exc)
            continue
        out.setdefault(key, replace(f, key=key))
    return sorted(out.values(), key=lambda f: f.filename)


__all__ = ["Outcome", "SyncContext", "sync_project"]
