"""Store one project's release files and `.metadata` siblings: the downloads a worker makes.

Why a batch: over a network each request costs a round trip, so a project's missing files are
requested at once (`Upstream.fetch_files`: the worker's bounded pool, `worker-connections` at a
time), then the `.metadata` files the stored wheels cannot give, the same way. Each file streams
into its storage writer while it is hashed and is committed as soon as it verifies; nothing is
stored that does not match upstream's sha256.

Where from: `master`'s host and the `download-hosts` (a file elsewhere fails its project with
one line, before any request), and with `download-mirror` set, that mirror first: the files it
fails are fetched again from upstream in a second batch (unless `download-mirror-no-fallback`).

Every object a project stores passes through `Stores`: its keys go on the pending journal before
the first is stored (a kill leaves nothing the next run cannot reclaim: pending.py), and the keys
stored are kept for `diff-file`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Callable, TypeVar
from urllib.parse import urlsplit

from mirror_tool import crashpoint
from mirror_tool.errors import ProjectError, StorageError
from mirror_tool.net import BodyTooLarge, ForeignHost, Stopped
from mirror_tool.records import ReleaseFile
from mirror_tool.storage import keys
from mirror_tool.upstream.client import FileJob

if TYPE_CHECKING:
    from mirror_tool.config import MirrorSettings
    from mirror_tool.engine.sync import SyncContext
    from mirror_tool.storage.base import Staged

log = logging.getLogger("mirror_tool.sync")

T = TypeVar("T")


class Stores:
    """The two accounts of what one project's sync stores: the pending journal (every key the
    sync may store, noted once before the first is stored) and `written` (the keys stored)."""

    def __init__(self, ctx: "SyncContext", norm: str, files: list[ReleaseFile]) -> None:
        self.files = files
        self.written: list[str] = []
        self._pending = ctx.pending
        self._norm = norm
        with_metadata = ctx.settings.core_metadata
        self._keys = [k for f in files if f.key
                      for k in ((f.key, keys.metadata(f.key)) if f.metadata_sha256 and with_metadata else (f.key,))]

    def note(self) -> None:
        """Put the project's keys on the journal (once), before anything is stored."""
        if self._pending is not None:
            self._pending.note_files(self._norm, self._keys)
            self._pending = None

    def store(self, key: str, put: Callable[[], T]) -> T:
        """Run `put` (which stores `key`), noted before and counted as written after."""
        self.note()
        result = put()
        self.written.append(key)
        return result


@dataclass
class _Want:
    """One object to download: its key, where from (in order of preference), how to stage it."""

    key: str
    urls: list[str]
    stage: Callable[[], "Staged"]
    sha256: str
    size: int | None = None
    cap: int | None = None
    committed: Callable[[], None] | None = None


def stored_files(ctx: "SyncContext", stores: Stores) -> list[ReleaseFile]:
    """Store the project's missing files, then the `.metadata` siblings the stored wheels cannot
    give. Any file failing fails the project. Returns the files with `has_metadata` and (when
    upstream omitted it) `size` filled in."""
    files = stores.files
    if not ctx.settings.release_files:
        return files
    sizes = {f.key: _size_if_stored(ctx, f) for f in files}
    missing = [_Want(f.key, download_urls(ctx.settings, f.url), partial(ctx.storage.stage, f.key, f.size),
                     f.sha256, f.size, committed=partial(crashpoint.reached, "file-committed"))
               for f in files if f.key and sizes[f.key] is None]
    _refuse_foreign_hosts(ctx, missing)
    if missing:
        for want, result in _fetch(ctx, stores, missing).items():
            if isinstance(result, BaseException):
                raise result
            sizes[want] = result
    with_metadata: set[str] = set()
    if ctx.settings.core_metadata:
        with_metadata = _stored_metadata(ctx, stores, [f for f in files if f.metadata_sha256])
    return [replace(f, has_metadata=f.key in with_metadata, size=f.size if f.size is not None else sizes[f.key])
            for f in files]


def download_urls(settings: "MirrorSettings", url: str) -> list[str]:
    """Where a file is fetched from, in order: `<download-mirror><path of url>` when a download
    mirror is set (then `url`, unless `download-mirror-no-fallback`), else `url` alone."""
    if not settings.download_mirror:
        return [url]
    parts = urlsplit(url)
    near = settings.download_mirror + parts.path + (f"?{parts.query}" if parts.query else "")
    return [near] if settings.download_mirror_no_fallback else [near, url]


def _size_if_stored(ctx: "SyncContext", f: ReleaseFile) -> int | None:
    """The stored size of `f` when an identical copy is there (per `compare-method`), else None."""
    if ctx.stop.stopped:
        raise Stopped()
    storage, key = ctx.storage, f.key
    assert key is not None
    info = storage.stat(key)
    if info is None:
        return None
    if ctx.settings.compare_method == "stat":
        if f.size is None or info.size == f.size:
            return info.size
    elif info.sha256 is not None:  # the backend keeps the hash: no need to read the bytes
        if info.sha256 == f.sha256:
            return info.size
    elif (f.size is None or info.size == f.size) and storage.sha256(key) == f.sha256:
        return info.size
    return None


def _refuse_foreign_hosts(ctx: "SyncContext", wants: list[_Want]) -> None:
    """Fail the project, before any request, when a file would come from a host the mirror may
    not ask. One line names the host(s) and the key that admits them: an upstream serving its
    files from another host is a deployment fact the operator states once in `download-hosts`."""
    allowed = ctx.upstream.http.host_allowed
    foreign = sorted({_origin(url) for want in wants for url in want.urls if not allowed(url)})
    if foreign:
        raise ForeignHost(f"file host {', '.join(foreign)} is not in [mirror] download-hosts")


def _origin(url: str) -> str:
    """`host` or `host:port` of `url` (no credentials), as `download-hosts` spells it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port}" if parts.port else host


def _fetch(ctx: "SyncContext", stores: Stores, wants: list[_Want]) -> dict[str, int | BaseException]:
    """Download `wants` at once from their first URL; those that fail there and have another URL
    (the download mirror's fallback to upstream) go again, at once, from the next. Key -> size or
    the error it ended with; stops and storage errors are raised."""
    stores.note()
    results: dict[str, int | BaseException] = {}
    pending = list(wants)
    for round_ in range(max(len(w.urls) for w in wants)):
        batch = [w for w in pending if round_ < len(w.urls)]
        jobs = [FileJob(w.urls[round_], w.stage, w.sha256, w.size, w.cap, w.committed) for w in batch]
        pending = []
        for want, result in zip(batch, ctx.upstream.fetch_files(jobs)):
            results[want.key] = result
            if not isinstance(result, BaseException):
                stores.written.append(want.key)
            elif round_ + 1 < len(want.urls) and isinstance(result, ProjectError) and not isinstance(result, StorageError):
                log.info("download mirror failed, falling back to upstream: %s", result)
                pending.append(want)
    return results


def _stored_metadata(ctx: "SyncContext", stores: Stores, wheels: list[ReleaseFile]) -> set[str]:
    """Keys of the wheels whose `.metadata` is stored: already there, read out of the stored wheel
    (when its sha256 is the promised one: wheel_metadata.py says why), or downloaded (at once).

    A `.metadata` that cannot be had only drops its advertisement; one refused for its size (a
    body past `max-metadata-size`) fails the project, since a hostile answer is not a missing file.
    """
    done: set[str] = set()
    wants: list[_Want] = []
    for f in wheels:
        if ctx.stop.stopped:
            raise Stopped()
        key, sha = f.key, f.metadata_sha256
        assert key is not None and sha is not None
        if _metadata_from_store(ctx, stores, key, sha):
            done.add(key)
            continue
        url = f.url.split("#", 1)[0] + keys.METADATA_SUFFIX
        wants.append(_Want(key, download_urls(ctx.settings, url), partial(ctx.storage.stage, keys.metadata(key), None),
                           sha, None, ctx.upstream.http.caps.metadata))
    if not wants:
        return done
    for key, result in _fetch(ctx, stores, wants).items():
        if isinstance(result, BodyTooLarge):
            raise result
        if isinstance(result, BaseException):
            log.warning("%s", result)
        else:
            done.add(key)
    return done


def _metadata_from_store(ctx: "SyncContext", stores: Stores, wheel_key: str, sha256: str) -> bool:
    """True when `<wheel>.metadata` is stored with the promised hash, or could be written from the
    stored wheel's own METADATA."""
    import hashlib

    from mirror_tool.engine.wheel_metadata import read_core_metadata

    storage, key = ctx.storage, keys.metadata(wheel_key)
    if storage.sha256(key) == sha256:
        return True
    reader = storage.open_read(wheel_key)
    data = None
    if reader is not None:
        with reader:
            data = read_core_metadata(reader)
    if data is None or hashlib.sha256(data).hexdigest() != sha256:
        return False
    stores.store(key, lambda: _store_bytes(ctx, key, data, sha256))
    return True


def _store_bytes(ctx: "SyncContext", key: str, data: bytes, sha256: str) -> None:
    staged = ctx.storage.stage(key, len(data))
    try:
        staged.write(data)
        staged.commit(sha256)
    except BaseException:
        staged.discard()
        raise


__all__ = ["Stores", "download_urls", "stored_files"]
