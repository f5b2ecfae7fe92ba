"""Sync one project, worker side: fetch it (checking the serial), filter, download and verify.

A worker never publishes: it returns an `Outcome` holding the project as it should be published
(every listed file stored and verified), and the parent's `Publisher` writes the pages in
checkpoints (publisher.py says why in that order). This keeps the publish order the same whether
projects run on threads or in forked worker processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, TypeVar
from urllib.parse import urlsplit

from mirror_tool import crashpoint
from mirror_tool.config import MirrorSettings
from mirror_tool.errors import ProjectError, StorageError, UnsafeName
from mirror_tool.exitcodes import ExitCode
from mirror_tool.names import check_project_name
from mirror_tool.records import Project, ReleaseFile
from mirror_tool.stop import StopToken
from mirror_tool.storage import keys
from mirror_tool.storage.base import Staged, Storage
from mirror_tool.upstream.client import Stopped, Upstream

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
        stores = _Stores(ctx, norm, _keyed(norm, admitted.files))
        files = _stored_files(ctx, stores)
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


T = TypeVar("T")


class _Stores:
    """Every object one project's sync stores passes through `store`, which keeps the two
    accounts of it: the pending journal (every key the sync may store, noted once before the
    first is stored, so a kill leaves nothing the next run cannot reclaim: pending.py) and
    `written` (the keys stored, for `diff-file`). Downloads from the download mirror, from
    upstream and `.metadata` read out of a stored wheel are all stores alike."""

    def __init__(self, ctx: SyncContext, norm: str, files: list[ReleaseFile]) -> None:
        self.files = files
        self.written: list[str] = []
        self._pending = ctx.pending
        self._norm = norm
        with_metadata = ctx.settings.core_metadata
        self._keys = [k for f in files if f.key
                      for k in ((f.key, keys.metadata(f.key)) if f.metadata_sha256 and with_metadata else (f.key,))]

    def store(self, key: str, put: Callable[[], T]) -> T:
        """Run `put` (which stores `key`), with `key` on the journal before and on `written` after."""
        if self._pending is not None:
            self._pending.note_files(self._norm, self._keys)
            self._pending = None
        result = put()
        self.written.append(key)
        return result


def _stored_files(ctx: SyncContext, stores: _Stores) -> list[ReleaseFile]:
    """Download missing files and advertised `.metadata` siblings, one after the other.

    The project's worker fetches its own files on its own keep-alive connection: concurrency comes
    from `workers` projects in flight, not from handing each file to another thread (which cost
    more CPU in hand-offs than the GET itself). Any file failing fails the project; a `.metadata`
    failing only drops its advertisement. Returns the files with `has_metadata` and (when
    upstream omitted it) `size` filled in.
    """
    if not ctx.settings.release_files:
        return stores.files
    out = []
    for f in stores.files:
        assert f.key is not None
        size = _ensure_file(ctx, f, stores)
        has_metadata = False
        if f.metadata_sha256 and ctx.settings.core_metadata:
            try:
                has_metadata = _ensure_metadata(ctx, f, f.key, stores)
            except ProjectError as exc:  # storage errors and stops are not ProjectErrors: they propagate
                log.warning("%s", exc)
        out.append(replace(f, has_metadata=has_metadata, size=f.size if f.size is not None else size))
    return out


def _ensure_file(ctx: SyncContext, f: ReleaseFile, stores: _Stores) -> int | None:
    """Store `f` unless an identical copy is there; its size on disk."""
    if ctx.stop.stopped:
        raise Stopped()
    storage, key = ctx.storage, f.key
    assert key is not None
    info = storage.stat(key)
    if info is not None:
        if ctx.settings.compare_method == "stat":
            if f.size is None or info.size == f.size:
                return info.size
        elif info.sha256 is not None:  # the backend keeps the hash: no need to read the bytes
            if info.sha256 == f.sha256:
                return info.size
        elif (f.size is None or info.size == f.size) and storage.sha256(key) == f.sha256:
            return info.size
    size = stores.store(key, lambda: _download(ctx, f.url, lambda: storage.stage(key, f.size), f.sha256, f.size))
    crashpoint.reached("file-committed")
    return size


def _download(ctx: SyncContext, url: str, stage: Callable[[], Staged], sha256: str, size: int | None) -> int:
    """Download `url` (checked against `sha256`), from the download mirror first when one is set."""
    urls = download_urls(ctx.settings, url)
    for i, candidate in enumerate(urls):
        try:
            return ctx.upstream.download(candidate, stage, sha256, size)
        except ProjectError as exc:
            if i == len(urls) - 1:
                raise
            log.info("download mirror failed, falling back to upstream: %s", exc)
    raise AssertionError("no URL to download from")


def download_urls(settings: MirrorSettings, url: str) -> list[str]:
    """Where a file is fetched from, in order: `<download-mirror><path of url>` when a download
    mirror is set (then `url`, unless `download-mirror-no-fallback`), else `url` alone."""
    if not settings.download_mirror:
        return [url]
    parts = urlsplit(url)
    near = settings.download_mirror + parts.path + (f"?{parts.query}" if parts.query else "")
    return [near] if settings.download_mirror_no_fallback else [near, url]


def _ensure_metadata(ctx: SyncContext, f: ReleaseFile, wheel_key: str, stores: _Stores) -> bool:
    """The wheel's `.metadata`: already there, read out of the stored wheel (when its sha256 is
    the promised one: wheel_metadata.py says why), or downloaded."""
    import hashlib

    from mirror_tool.engine.wheel_metadata import read_core_metadata

    if ctx.stop.stopped:
        raise Stopped()
    storage, key, sha = ctx.storage, keys.metadata(wheel_key), f.metadata_sha256
    assert sha
    if storage.sha256(key) == sha:
        return True
    reader = storage.open_read(wheel_key)
    data = None
    if reader is not None:
        with reader:
            data = read_core_metadata(reader)
    if data is not None and hashlib.sha256(data).hexdigest() == sha:
        stores.store(key, lambda: _store_bytes(storage, key, data, sha))
        return True
    url = f.url.split("#", 1)[0] + keys.METADATA_SUFFIX
    stores.store(key, lambda: _download(ctx, url, lambda: storage.stage(key, None), sha, None))
    return True


def _store_bytes(storage: Storage, key: str, data: bytes, sha256: str) -> None:
    staged = storage.stage(key, len(data))
    try:
        staged.write(data)
        staged.commit(sha256)
    except BaseException:
        staged.discard()
        raise


__all__ = ["Outcome", "SyncContext", "sync_project"]
