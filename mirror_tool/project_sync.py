"""Sync one project: fetch its JSON (checking the serial), filter, download, verify, publish.

Ordering is what keeps the tree consistent at every instant: files are downloaded and verified
first, made durable, then the project's JSON copies and simple pages are replaced atomically, and
only then are files that the new pages no longer list deleted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mirror_tool.config import Config
from mirror_tool.errors import ProjectError, StorageError, UnsafeName
from mirror_tool.layout import DurabilityBarrier, Layout, atomic_write, prune_empty_dirs, remove_file
from mirror_tool.names import check_filename, check_hex_digest, check_http_url, check_project_name, package_rel_path
from mirror_tool.pages import (
    FileEntry,
    local_rel_path,
    page_file_hrefs,
    render_project_html,
    render_project_json,
)
from mirror_tool.stop import StopToken
from mirror_tool.upstream import Stopped, Upstream, file_sha256
from mirror_tool.wheel_metadata import read_core_metadata

if TYPE_CHECKING:
    from mirror_tool.filters import Filter

log = logging.getLogger("mirror_tool.sync")


@dataclass
class Outcome:
    """Result of one project sync; `kind` is synced | removed | stale | failed | stopped | refused."""

    name: str  # normalized
    kind: str
    display_name: str = ""
    serial: int = 0
    expected: int = 0
    error: str = ""
    urls: list[str] = field(default_factory=list)
    job: "PublishJob | None" = None  # synced: pages to publish
    files_downloaded: int = 0  # set by a worker process (threads count on the shared Upstream)
    bytes_downloaded: int = 0


@dataclass
class SyncContext:
    config: Config
    layout: Layout
    upstream: Upstream
    filter: "Filter"
    barrier: DurabilityBarrier
    stop: StopToken


def sync_project(ctx: SyncContext, name: str, expected: int) -> Outcome:
    """Bring project `name` to at least serial `expected` (0: whatever upstream serves)."""
    try:
        norm = check_project_name(name)
    except UnsafeName as exc:
        log.error("%s", exc)
        return Outcome(name, "refused", error=str(exc))
    if ctx.stop.stopped:
        return Outcome(norm, "stopped", expected=expected)
    settings = ctx.config.mirror
    log.info("Syncing package: %s (serial %d)", norm, expected)
    urls: list[str] = []
    try:
        attempt = 0
        while True:
            page = ctx.upstream.project_json(norm)
            _note_urls(urls, page)
            if page.data is None:
                # The JSON API 404s for a project without releases; its simple page tells whether
                # it still exists.
                page = ctx.upstream.project_simple(norm)
                _note_urls(urls, page)
            if page.serial >= expected or page.serial < 0:
                break
            log.info("Stale serial for package %s: expected %d, got %d", norm, expected, page.serial)
            if attempt >= settings.stale_retries:
                display = str((page.data or {}).get("info", {}).get("name") or norm)
                return Outcome(norm, "stale", display_name=display, serial=page.serial, expected=expected, urls=urls)
            if ctx.stop.wait(settings.stale_backoff * (2**attempt)):
                return Outcome(norm, "stopped", expected=expected, urls=urls)
            attempt += 1
        if page.data is None:
            return Outcome(norm, "removed", serial=page.serial, expected=expected, urls=urls)
        display = _display_name(page.data, norm)
        files, versions = _collect_files(ctx, norm, page.data)
        with_meta = _fetch_all(ctx, files)
        if ctx.stop.stopped:
            return Outcome(norm, "stopped", expected=expected, urls=urls)
        blob = None
        if settings.json and not page.from_simple and page.data is not None:
            blob = _json_copy(page.data, with_meta, settings.root_uri, settings.release_files)
        job = PublishJob(norm, display, page.serial, with_meta, versions, blob, bool(settings.release_files and files))
        return Outcome(norm, "synced", display_name=display, serial=page.serial, expected=expected, urls=urls, job=job)
    except Stopped:
        return Outcome(norm, "stopped", expected=expected, urls=urls)
    except StorageError:
        raise
    except ProjectError as exc:
        return Outcome(norm, "failed", expected=expected, error=str(exc), urls=urls)


def _note_urls(urls: list[str], page: Any) -> None:
    """Remember every path fetched for a project (stale.json `urls`, what the wrapper PURGEs)."""
    for path in [page.url_path, *page.redirects]:
        if path not in urls:
            urls.append(path)


def _display_name(data: dict[str, Any], norm: str) -> str:
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    display = info.get("name") if isinstance(info, dict) else None
    if isinstance(display, str):
        try:
            if check_project_name(display) == norm:
                return display
        except UnsafeName:
            pass
    return norm


def _collect_files(ctx: SyncContext, norm: str, data: dict[str, Any]) -> tuple[list[FileEntry], list[str]]:
    """Validated FileEntry list of the admitted releases; unsafe entries are refused and logged."""
    releases = data.get("releases")
    if not isinstance(releases, dict):
        raise ProjectError(f"{norm}: project JSON has no releases mapping")
    clean: dict[str, list[dict[str, Any]]] = {
        str(v): [f for f in fl if isinstance(f, dict)] for v, fl in releases.items() if isinstance(fl, list)
    }
    admitted = ctx.filter.filter_releases(norm, clean)
    entries: list[FileEntry] = []
    seen: set[str] = set()
    for version, file_list in admitted.items():
        for f in file_list:
            try:
                entry = _file_entry(version, f)
            except UnsafeName as exc:
                log.error("Refused file %r of package %s: %s", f.get("filename"), norm, exc)
                continue
            if entry.rel_path in seen:
                continue
            seen.add(entry.rel_path)
            entries.append(entry)
    entries.sort(key=lambda e: e.filename)
    versions = sorted(admitted.keys(), key=_version_key)
    return entries, versions


def _version_key(version: str) -> tuple[int, Any]:
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _file_entry(version: str, f: dict[str, Any]) -> FileEntry:
    filename = check_filename(f.get("filename"))  # type: ignore[arg-type]
    url = check_http_url(f.get("url"))
    digests = f.get("digests") if isinstance(f.get("digests"), dict) else {}
    sha256 = check_hex_digest(digests.get("sha256"), "sha256")
    b2 = digests.get("blake2b_256")
    rel = package_rel_path(filename, b2 if b2 else None, url)
    size = f.get("size")
    size = size if isinstance(size, int) and size >= 0 else None
    meta = None
    for key in ("core-metadata", "core_metadata", "data-dist-info-metadata", "data_dist_info_metadata", "dist-info-metadata"):
        if key in f:
            meta = f[key]
            break
    meta_sha = None
    if isinstance(meta, dict) and meta.get("sha256"):
        try:
            meta_sha = check_hex_digest(meta.get("sha256"), "core-metadata sha256")
        except UnsafeName:
            meta_sha = None
    yanked = bool(f.get("yanked", False))
    reason = f.get("yanked_reason")
    rp = f.get("requires_python")
    upload = f.get("upload_time_iso_8601") or f.get("upload_time")
    return FileEntry(
        filename=filename,
        url=url,
        rel_path=rel,
        sha256=sha256,
        size=size,
        requires_python=rp if isinstance(rp, str) and rp else None,
        yanked=yanked,
        yanked_reason=reason if isinstance(reason, str) and reason else None,
        upload_time=upload if isinstance(upload, str) else None,
        version=version,
        metadata_sha256=meta_sha if filename.endswith(".whl") else None,
    )


def _is_present(ctx: SyncContext, path: Path, sha256: str, size: int | None) -> bool:
    if ctx.config.mirror.compare_method == "stat":
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size
    return file_sha256(path) == sha256


def _fetch_all(ctx: SyncContext, files: list[FileEntry]) -> list[FileEntry]:
    """Download missing files and advertised `.metadata` siblings, one after the other.

    The project's worker fetches its own files on its own keep-alive connection: concurrency comes
    from `workers` projects in flight, not from handing each file to another thread (which cost
    more CPU in hand-offs than the GET itself). Any file failing fails the project; a `.metadata`
    failing only drops its advertisement. Returns the entries with `has_metadata` and (when
    upstream omitted it) `size` filled in.
    """
    if not ctx.config.mirror.release_files:
        return files
    out = []
    for entry in files:
        dest = ctx.layout.file_path(entry.rel_path)
        _ensure_file(ctx, entry, dest)
        has_metadata = False
        if entry.metadata_sha256:
            try:
                has_metadata = _ensure_metadata(ctx, entry, ctx.layout.file_path(entry.rel_path + ".metadata"))
            except ProjectError as exc:  # storage errors and stops are not ProjectErrors: they propagate
                log.warning("%s", exc)
        changes: dict[str, Any] = {"has_metadata": has_metadata}
        if entry.size is None:
            try:
                changes["size"] = dest.stat().st_size
            except OSError:
                pass
        out.append(FileEntry(**{**entry.__dict__, **changes}))
    return out


def _ensure_file(ctx: SyncContext, entry: FileEntry, dest: Path) -> None:
    if ctx.stop.stopped:
        raise Stopped()
    if _is_present(ctx, dest, entry.sha256, entry.size):
        return
    ctx.upstream.download(entry.url, dest, entry.sha256, entry.size)


def _ensure_metadata(ctx: SyncContext, entry: FileEntry, dest: Path) -> bool:
    """The wheel's `.metadata`: already there, read out of the stored wheel (when its sha256 is
    the promised one: wheel_metadata.py says why), or downloaded."""
    if ctx.stop.stopped:
        raise Stopped()
    assert entry.metadata_sha256
    if file_sha256(dest) == entry.metadata_sha256:
        return True
    data = read_core_metadata(ctx.layout.file_path(entry.rel_path))
    if data is not None and hashlib.sha256(data).hexdigest() == entry.metadata_sha256:
        ctx.upstream.store_verified(dest, data)
        return True
    ctx.upstream.download(entry.url.split("#", 1)[0] + ".metadata", dest, entry.metadata_sha256, None)
    return True


@dataclass
class PublishJob:
    """A project whose files are all on disk and verified, waiting for its pages to be written.

    Jobs are published in batches by the engine (mirror.py): one durability flush covers every
    file of the batch, then the pages are replaced, then dropped files are deleted.
    """

    name: str
    display_name: str
    serial: int
    files: list[FileEntry]
    versions: list[str]
    json_blob: bytes | None
    any_files: bool


def publish_pages(ctx: SyncContext, job: PublishJob) -> list[str]:
    """Replace a project's pages (and JSON copies); returns files the new pages no longer list.

    The caller must have made the job's files durable first, and must make these pages durable
    before deleting the returned files.
    """
    settings = ctx.config.mirror
    layout = ctx.layout
    norm = job.name
    pdir = layout.project_dir(norm)
    old_hrefs = page_file_hrefs(pdir) if settings.delete_packages else []
    fmt = settings.simple_format
    kw = {"release_files": settings.release_files, "root_uri": settings.root_uri}
    if job.json_blob is not None:
        for path in layout.json_paths(norm):
            atomic_write(path, job.json_blob)
    if fmt in ("ALL", "JSON"):
        atomic_write(pdir / "index.v1_json", render_project_json(norm, job.serial, job.files, job.versions, **kw))
    if fmt in ("ALL", "HTML"):
        page = render_project_html(job.display_name, job.serial, job.files, **kw)
        atomic_write(pdir / "index.v1_html", page)
        atomic_write(pdir / "index.html", page)
    # Pages of a kind the config no longer writes would go stale (and could list deleted files).
    unwanted = []
    if fmt == "HTML":
        unwanted.append(pdir / "index.v1_json")
    if fmt == "JSON":
        unwanted += [pdir / "index.html", pdir / "index.v1_html"]
    if not ctx.config.mirror.json:
        unwanted += list(layout.json_paths(norm))
    for path in unwanted:
        try:
            remove_file(path)
        except OSError:
            pass
    stale_paths: list[str] = []
    if settings.delete_packages and settings.release_files and old_hrefs:
        keep = {f.rel_path for f in job.files} | {f.rel_path + ".metadata" for f in job.files if f.has_metadata}
        for href, _sha in old_hrefs:
            rel = local_rel_path(href, settings.root_uri)
            if rel and rel not in keep:
                stale_paths.append(rel)
                if rel + ".metadata" not in keep:
                    stale_paths.append(rel + ".metadata")
    return stale_paths


def delete_files(layout: Layout, rel_paths: list[str]) -> int:
    removed = 0
    for rel in rel_paths:
        path = layout.file_path(rel)
        try:
            if remove_file(path):
                removed += 1
                log.info("Deleted %s", rel)
            prune_empty_dirs(path.parent, layout.packages)
        except OSError as exc:
            log.warning("cannot delete %s: %s", path, exc.strerror)
    return removed


def remove_project_pages(ctx: SyncContext, norm: str) -> None:
    """Drop a removed project's pages and JSON copies, and its files when delete-packages is on."""
    settings = ctx.config.mirror
    layout = ctx.layout
    pdir = layout.project_dir(norm)
    rels = []
    if settings.delete_packages and settings.release_files:
        for href, _sha in page_file_hrefs(pdir):
            rel = local_rel_path(href, settings.root_uri)
            if rel:
                rels += [rel, rel + ".metadata"]
    for path in (pdir / "index.html", pdir / "index.v1_html", pdir / "index.v1_json", *layout.json_paths(norm)):
        try:
            remove_file(path)
            prune_empty_dirs(path.parent, layout.web)
        except OSError as exc:
            log.warning("cannot delete %s: %s", path, exc.strerror)
    if rels:
        delete_files(layout, rels)
    log.info("Removed package %s", norm)


def _json_copy(data: dict[str, Any], files: list[FileEntry], root_uri: str, release_files: bool) -> bytes:
    """The upstream project JSON with file URLs pointing at this mirror's `/packages/...`."""
    doc = copy.deepcopy(data)
    if release_files:
        base = root_uri.rstrip("/") if root_uri else ""
        mirror_urls = {f.url: f"{base}/{f.rel_path}" for f in files}

        def rewrite(items: Any) -> None:
            if isinstance(items, list):
                for item in items:
                    if isinstance(item, dict) and item.get("url") in mirror_urls:
                        item["url"] = mirror_urls[item["url"]]

        for file_list in (doc.get("releases") or {}).values():
            rewrite(file_list)
        rewrite(doc.get("urls"))
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


__all__ = ["Outcome", "PublishJob", "SyncContext", "sync_project", "publish_pages", "remove_project_pages", "delete_files"]
