"""Removing things from a published mirror tree without ever exposing a dangling link.

Shared by `verify --delete` and `delete`. The order is the invariant: first every index that lists
a thing is rewritten (global index, project pages, JSON copies) and made durable, only then are the
files unlinked. A crash in between leaves orphans (which `verify` finds), never a page pointing at
a missing file. Rendering is pages.py's; this module only decides what to render.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from mirror_tool.config import Config
from mirror_tool.layout import DurabilityBarrier, Layout, atomic_write, prune_empty_dirs, storage_error
from mirror_tool.local_pages import PageFile, ProjectPageRecord, file_version, parse_html_page, read_project_page
from mirror_tool.pages import (
    FileEntry,
    ProjectRecord,
    read_root_index,
    render_project_html,
    render_project_json,
    render_root_html,
    render_root_json,
)
from mirror_tool.state import read_run_state, read_stale, read_todo, write_run_state, write_stale, write_todo

log = logging.getLogger("mirror_tool.maintenance")


@dataclass
class Removal:
    """What a removal did (or, in a dry run, would do)."""

    projects: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # rel paths below web/
    bytes: int = 0


def touch_last_modified(layout: Layout) -> None:
    """`web/last-modified` (same stamp format as a sync) after maintenance changed the tree."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H:%M:%S")
    atomic_write(layout.last_modified, (stamp + "\n").encode())


def local_projects(layout: Layout) -> dict[str, ProjectRecord]:
    """Projects the mirror holds: the global index plus any `simple/<name>/` directory."""
    projects = dict(read_root_index(layout.simple))
    try:
        with os.scandir(layout.simple) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and entry.name not in projects:
                    projects[entry.name] = ProjectRecord(entry.name, 0)
    except FileNotFoundError:
        pass
    return projects


def project_rel_paths(page: ProjectPageRecord | None) -> list[str]:
    """Every local path a page references: files and their `.metadata` siblings."""
    rels: list[str] = []
    for f in page.files if page else ():
        if f.rel_path:
            rels += [f.rel_path, f.rel_path + ".metadata"]
    return rels


# -- global index ------------------------------------------------------------------------------


def _root_serial(layout: Layout) -> int:
    try:
        return int(json.loads((layout.simple / "index.v1_json").read_bytes())["meta"]["_last-serial"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return int(layout.status.read_text().strip())
    except (OSError, ValueError):
        return 0


def write_root_index(config: Config, layout: Layout, projects: dict[str, ProjectRecord]) -> None:
    """Replace the global index pages (the formats `simple-format` asks for) with `projects`."""
    fmt = config.mirror.simple_format
    if fmt in ("ALL", "JSON"):
        atomic_write(layout.simple / "index.v1_json", render_root_json(projects, _root_serial(layout)))
    if fmt in ("ALL", "HTML"):
        page = render_root_html(projects)
        atomic_write(layout.simple / "index.v1_html", page)
        atomic_write(layout.simple / "index.html", page)


# -- project pages -----------------------------------------------------------------------------


def _entry(page_file: PageFile, version: str) -> FileEntry:
    return FileEntry(
        filename=page_file.filename,
        url=page_file.href,
        rel_path=page_file.rel_path or "",
        sha256=page_file.sha256 or "",
        size=page_file.size,
        requires_python=page_file.requires_python,
        yanked=page_file.yanked,
        yanked_reason=page_file.yanked_reason,
        upload_time=page_file.upload_time,
        version=version,
        metadata_sha256=page_file.metadata_sha256,
        has_metadata=page_file.metadata_sha256 is not None,
    )


def _display_name(layout: Layout, norm: str, page: ProjectPageRecord) -> str:
    """HTML pages show the display name; the JSON page only has the normalized one."""
    if page.source == "html":
        return page.display_name
    html_page = read_project_page_html(layout.project_dir(norm))
    if html_page is not None:
        return html_page.display_name
    record = read_root_index(layout.simple).get(norm)
    return record.display_name if record else page.display_name or norm


def read_project_page_html(project_dir: Path) -> ProjectPageRecord | None:
    """The HTML page alone (for its display name)."""
    try:
        return parse_html_page((project_dir / "index.html").read_text(encoding="utf-8"), project_dir.name, "")
    except (OSError, UnicodeDecodeError):
        return None


def rewrite_project_without(
    config: Config, layout: Layout, norm: str, page: ProjectPageRecord, drop: set[str]
) -> None:
    """Re-render `norm`'s pages (and JSON copies) without the files named in `drop`."""
    kept = [f for f in page.files if f.filename not in drop]
    versions_with_files: dict[str, str] = {}
    entries = []
    for f in kept:
        version = file_version(norm, f.filename, page.versions) or ""
        versions_with_files[version] = version
        entries.append(_entry(f, version))
    if page.versions is not None:
        dropped_versions = {file_version(norm, f.filename, page.versions) for f in page.files if f.filename in drop}
        versions = [v for v in page.versions if v in versions_with_files or v not in dropped_versions]
    else:
        versions = [v for v in versions_with_files if v]
    settings = config.mirror
    kw = {"release_files": settings.release_files, "root_uri": settings.root_uri}
    pdir = layout.project_dir(norm)
    fmt = settings.simple_format
    if fmt in ("ALL", "JSON"):
        atomic_write(pdir / "index.v1_json", render_project_json(norm, page.serial, entries, versions, **kw))
    if fmt in ("ALL", "HTML"):
        html_page = render_project_html(_display_name(layout, norm, page), page.serial, entries, **kw)
        atomic_write(pdir / "index.v1_html", html_page)
        atomic_write(pdir / "index.html", html_page)
    _drop_from_json_copies(layout, norm, drop)


def _drop_from_json_copies(layout: Layout, norm: str, drop: set[str]) -> None:
    """Remove dropped files from `pypi/<name>/json` and `json/<name>` so they link nothing missing."""
    for path in layout.json_paths(norm):
        try:
            doc: dict[str, Any] = json.loads(path.read_bytes())
        except (FileNotFoundError, ValueError):
            continue

        def keep(items: Any) -> Any:
            if not isinstance(items, list):
                return items
            return [i for i in items if not (isinstance(i, dict) and i.get("filename") in drop)]

        releases = doc.get("releases")
        if isinstance(releases, dict):
            doc["releases"] = {v: keep(fl) for v, fl in releases.items()}
        if "urls" in doc:
            doc["urls"] = keep(doc["urls"])
        atomic_write(path, json.dumps(doc, separators=(",", ":")).encode("utf-8"))


# -- removal -------------------------------------------------------------------------------------


def unlink_files(layout: Layout, rel_paths: Iterable[str]) -> tuple[list[str], int]:
    """Unlink files below web/ and prune emptied directories; (removed rel paths, bytes freed)."""
    removed: list[str] = []
    freed = 0
    for rel in rel_paths:
        path = layout.web / rel
        try:
            size = path.stat().st_size
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise storage_error(exc, str(path)) from exc
        removed.append(rel)
        freed += size
        prune_empty_dirs(path.parent, layout.packages if rel.startswith("packages/") else layout.web)
    return removed, freed


def _remove_project_dir(layout: Layout, norm: str) -> None:
    pdir = layout.project_dir(norm)
    for name in ("index.v1_json", "index.v1_html", "index.html"):
        try:
            os.unlink(pdir / name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise storage_error(exc, str(pdir / name)) from exc
    try:
        with os.scandir(pdir) as entries:  # stray temporaries of an interrupted page write
            for entry in entries:
                if entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
        pdir.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot remove %s: %s", pdir, exc.strerror)
    for path in layout.json_paths(norm):
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise storage_error(exc, str(path)) from exc
        prune_empty_dirs(path.parent, layout.web)


def forget_in_state(layout: Layout, names: set[str]) -> None:
    """Drop the projects from `todo`, `state.json` failing and `stale.json` so no run resurrects them."""
    todo = read_todo(layout)
    if todo is not None and names & set(todo.projects):
        todo.projects = {k: v for k, v in todo.projects.items() if k not in names}
        write_todo(layout, todo)
    state = read_run_state(layout)
    if names & set(state.failing):
        state.failing = {k: v for k, v in state.failing.items() if k not in names}
        write_run_state(layout, state)
    stale = read_stale(layout)
    if names & set(stale):
        write_stale(layout, {k: v for k, v in stale.items() if k not in names})


def remove_projects(config: Config, layout: Layout, names: Iterable[str], *, dry_run: bool) -> Removal:
    """Remove whole projects: global-index entries, pages, JSON copies, files, state entries."""
    wanted = list(dict.fromkeys(names))
    result = Removal()
    projects = local_projects(layout)
    pages: dict[str, ProjectPageRecord | None] = {}
    for norm in wanted:
        json_copies = [p for p in layout.json_paths(norm) if p.exists()]
        if norm not in projects and not json_copies:
            continue
        pages[norm] = read_project_page(layout.project_dir(norm), config.mirror.root_uri)
        result.projects.append(norm)
        for rel in project_rel_paths(pages[norm]):
            try:
                size = (layout.web / rel).stat().st_size
            except OSError:
                continue
            result.files.append(rel)
            result.bytes += size
    if dry_run or not result.projects:
        return result
    gone = set(result.projects)
    indexed = read_root_index(layout.simple)
    if gone & set(indexed):
        write_root_index(config, layout, {k: v for k, v in indexed.items() if k not in gone})
    for norm in result.projects:
        _remove_project_dir(layout, norm)
    DurabilityBarrier(layout.root).flush()
    removed, freed = unlink_files(layout, result.files)
    result.files, result.bytes = removed, freed
    forget_in_state(layout, gone)
    touch_last_modified(layout)
    for norm in result.projects:
        log.info("Removed package %s", norm)
    return result

