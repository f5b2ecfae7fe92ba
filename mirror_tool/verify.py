"""`pypi-mirror verify [--repair] [--delete] [--json]`: find and fix damage in a mirror tree.

Why it exists: disks rot, operators delete things by hand, upstream removes projects and filters
change; none of that shows up in a sync, which trusts what it wrote. Verify walks the published
pages once (the JSON page when there is one: one `json.loads` per project, no HTML parsing),
hashes every listed file on `verifiers` threads (hashlib releases the GIL on large buffers) and
walks `packages/` once for orphans. Upstream is asked once for its project list, never per project
(except to re-download damaged files with `--repair`).

Problems (the `kind` in the report):
  corrupt           a listed file (or its `.metadata`) whose size or sha256 does not match its page
  missing           a listed file (or advertised `.metadata`) that is not on disk
  orphan            a file below `packages/` no page lists, or a JSON copy of no mirrored project
  missing-page      a project in the global index without a page (or a page directory without pages)
  gone-upstream     a mirrored project upstream no longer lists
  excluded-project  a mirrored project the current filters exclude
  excluded-file     a listed file the current filters exclude

Dry run by default. `--repair` re-downloads corrupt and missing files (verified against the page's
hash before they replace anything). `--delete` removes orphans, projects gone upstream or excluded
(like `pypi-mirror delete`) and excluded files, rewriting the affected project pages, JSON copies
and the global index first. Exit 0: clean (or everything found was fixed); 1: problems remain;
5: the upstream project list could not be fetched (nothing is judged gone upstream); 7: storage
error; 6/130/143: stopped (nothing more is changed).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mirror_tool.config import Config
from mirror_tool.errors import MirrorError, ProjectError, StorageError
from mirror_tool.exitcodes import ExitCode, most_urgent
from mirror_tool.filters import Filter, load_filter
from mirror_tool.layout import DurabilityBarrier, Layout, storage_error
from mirror_tool.local_pages import ProjectPageRecord, file_version, read_project_page
from mirror_tool.names import normalize
from mirror_tool.pages import ProjectRecord, read_root_index
from mirror_tool.stop import StopToken
from mirror_tool.tree_edit import (
    local_projects,
    remove_projects,
    rewrite_project_without,
    touch_last_modified,
    unlink_files,
    write_root_index,
)
from mirror_tool.upstream import Stopped, Upstream

log = logging.getLogger("mirror_tool.verify")

CHUNK = 1 << 20
KINDS = ("corrupt", "missing", "orphan", "missing-page", "gone-upstream", "excluded-project", "excluded-file")
_REPAIRABLE = {"corrupt", "missing"}
_DELETABLE = {"orphan", "missing-page", "gone-upstream", "excluded-project", "excluded-file"}


@dataclass
class Problem:
    """One finding. `path` is relative to `web/`; `bytes` is what is on disk (0 when missing)."""

    kind: str
    project: str | None
    path: str | None
    bytes: int = 0
    detail: str = ""
    fixed: bool = False
    files: int = 1  # files on disk involved (a whole project: all of its files; missing: 0)
    expected_bytes: int | None = None  # page size of a missing / corrupt file (re-download cost)


@dataclass
class ProjectCheck:
    """Everything verify learned about one project from its page and its files."""

    name: str
    page: ProjectPageRecord | None
    listed: set[str] = field(default_factory=set)  # rel paths the page references (incl. .metadata)
    problems: list[Problem] = field(default_factory=list)
    disk_bytes: int = 0  # bytes of the listed files present on disk
    disk_files: int = 0  # how many of them are present
    files_checked: int = 0
    excluded: list[Problem] = field(default_factory=list)  # excluded-file problems


@dataclass
class VerifyReport:
    directory: str
    dry_run: bool
    projects_checked: int = 0
    files_checked: int = 0
    bytes_checked: int = 0
    upstream_checked: bool = False
    upstream_error: str = ""
    problems: list[Problem] = field(default_factory=list)
    repaired_files: int = 0
    repaired_bytes: int = 0
    deleted_files: int = 0
    deleted_projects: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def left(self) -> list[Problem]:
        return [p for p in self.problems if not p.fixed]


# -- hashing -----------------------------------------------------------------------------------

_buffers = threading.local()


def sha256_file(path: Path | str, size: int) -> str:
    """sha256 of a file: small files in one read, large ones in 1 MiB chunks into a reused buffer."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return _sha256_fd(fd, size)
    finally:
        os.close(fd)


def _sha256_fd(fd: int, size: int) -> str:
    if size <= CHUNK:
        return hashlib.sha256(os.read(fd, CHUNK)).hexdigest()
    digest = hashlib.sha256()
    buf = getattr(_buffers, "buf", None)
    if buf is None:
        buf = _buffers.buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(fd, "rb", buffering=0, closefd=False) as fh:
        while True:
            n = fh.readinto(buf)
            if not n:
                break
            digest.update(view[:n])
    return digest.hexdigest()


def _check_file(rel: str, path: str, sha256: str | None, size: int | None, project: str) -> tuple[Problem | None, int]:
    """(problem or None, bytes on disk) for one listed file: one open, one fstat, one read if small."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return Problem("missing", project, rel, 0, "listed by the page, not on disk", files=0, expected_bytes=size), 0
    except OSError as exc:
        return Problem("corrupt", project, rel, 0, f"unreadable: {exc.strerror}", expected_bytes=size), 0
    try:
        on_disk = os.fstat(fd).st_size
        if size is not None and on_disk != size:
            detail = f"size {on_disk} != page size {size}"
            return Problem("corrupt", project, rel, on_disk, detail, expected_bytes=size), on_disk
        if sha256:
            try:
                got = _sha256_fd(fd, on_disk)
            except OSError as exc:
                return Problem("corrupt", project, rel, on_disk, f"unreadable: {exc.strerror}", expected_bytes=size), on_disk
            if got != sha256.lower():
                detail = f"sha256 {got} != page sha256 {sha256}"
                return Problem("corrupt", project, rel, on_disk, detail, expected_bytes=size), on_disk
        return None, on_disk
    finally:
        os.close(fd)


# -- per project -------------------------------------------------------------------------------


def _check_project(config: Config, layout: Layout, filt: Filter, norm: str, indexed: bool, stop: StopToken) -> ProjectCheck | None:
    if stop.stopped:
        return None
    page = read_project_page(layout.project_dir(norm), config.mirror.root_uri)
    check = ProjectCheck(norm, page)
    if page is None:
        where = "listed in the global index without a readable page" if indexed else "page directory without a readable page"
        check.problems.append(Problem("missing-page", norm, f"simple/{norm}/", 0, where, files=0))
        return check
    disk_sizes: dict[str, int] = {}
    web = f"{layout.web}/"  # plain strings: pathlib costs more than the hashing of small files
    for f in page.files:
        rel = f.rel_path
        if not rel:
            continue  # release-files = false: the page links upstream
        check.listed.add(rel)
        problem, on_disk = _check_file(rel, web + rel, f.sha256, f.size, norm)
        check.files_checked += 1
        disk_sizes[f.filename] = on_disk
        _count(check, problem, on_disk)
        meta_rel = rel + ".metadata"
        check.listed.add(meta_rel)  # an unadvertised sibling is harmless, never an orphan
        if f.metadata_sha256:
            problem, on_disk = _check_file(meta_rel, web + meta_rel, f.metadata_sha256, None, norm)
            check.files_checked += 1
            _count(check, problem, on_disk)
    if filt.active and filt.admits_project(norm):
        for f in _excluded_files(filt, norm, page, disk_sizes):
            rel = f.rel_path
            size, files = 0, 0
            if rel:
                for path in (layout.web / rel, layout.web / (rel + ".metadata")):
                    try:
                        size += os.stat(path).st_size
                        files += 1
                    except OSError:
                        pass
            detail = f"{f.filename} is excluded by the filters"
            check.excluded.append(Problem("excluded-file", norm, rel or f.href, size, detail, files=files))
    return check


def _count(check: ProjectCheck, problem: Problem | None, on_disk: int) -> None:
    if problem is not None:
        check.problems.append(problem)
        if problem.kind == "missing":
            return
    check.disk_files += 1
    check.disk_bytes += on_disk


def _size_or_zero(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _excluded_files(filt: Filter, norm: str, page: ProjectPageRecord, disk_sizes: dict[str, int]) -> list[Any]:
    """Page files the filters reject: version rules need the version, recovered from the name."""
    releases: dict[str, list[dict[str, Any]]] = {}
    unknown = []
    by_name = {}
    for f in page.files:
        by_name[f.filename] = f
        size = f.size if f.size is not None else disk_sizes.get(f.filename)
        item = {"filename": f.filename, "size": size}
        version = file_version(norm, f.filename, page.versions)
        if version is None:
            unknown.append(item)
        else:
            releases.setdefault(version, []).append(item)
    admitted = {d["filename"] for files in filt.filter_releases(norm, releases).values() for d in files}
    admitted |= {d["filename"] for d in unknown if filt.admits_file(norm, d)}  # judged by file rules only
    return [f for name, f in by_name.items() if name not in admitted]


# -- whole tree --------------------------------------------------------------------------------


def _walk_packages(layout: Layout) -> list[str]:
    """Every non-directory below `packages/`, as paths relative to web/ (no stat: only orphans
    need sizes).

    GNU find lists the tree in another process, on the other core, while the verifier threads hash:
    a Python walk of the ~3 directory levels per file would compete with them for the GIL and
    cost more CPU than the hashing of small files. Falls back to os.scandir without find.
    """
    if not layout.packages.is_dir():
        return []
    find = shutil.which("find")
    if find:
        try:
            out = subprocess.run(
                [find, "packages", "-mindepth", "1", "!", "-type", "d", "-print0"],
                cwd=layout.web, capture_output=True, check=True,
            ).stdout
            return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
        except (OSError, subprocess.CalledProcessError) as exc:
            log.debug("find failed (%s), walking packages/ in Python", exc)
    found: list[str] = []

    def walk(directory: str, prefix: str) -> None:
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        walk(entry.path, f"{prefix}{entry.name}/")
                    else:
                        found.append(prefix + entry.name)
        except (FileNotFoundError, NotADirectoryError):
            pass

    walk(str(layout.packages), "packages/")
    return found


def _json_copy_orphans(layout: Layout, local: set[str]) -> dict[str, int]:
    """JSON copies (`json/<name>`, `pypi/<name>/json`) of projects the mirror does not hold."""
    found: dict[str, int] = {}
    for sub, inner in (("json", None), ("pypi", "json")):
        try:
            entries = list(os.scandir(layout.web / sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            if normalize(entry.name) in local:
                continue
            rel = f"{sub}/{entry.name}" + (f"/{inner}" if inner else "")
            path = layout.web / rel
            if path.is_file():
                found[rel] = _size_or_zero(path)
    return found


def _upstream_names(config: Config, layout: Layout, stop: StopToken) -> set[str]:
    """Normalized names upstream lists: the PEP 691 index, else XML-RPC list_packages_with_serial."""
    upstream = Upstream(config.mirror, stop, layout.tmp)
    try:
        try:
            _serial, projects = upstream.simple_index()
        except MirrorError as first:
            try:
                projects = upstream.list_packages_with_serial()
            except MirrorError:
                raise first from None
        return {normalize(name) for name in projects}
    finally:
        upstream.close()


def _inspect(config: Config, layout: Layout, filt: Filter, stop: StopToken, report: VerifyReport) -> tuple[list[ProjectCheck], dict[str, ProjectRecord]]:
    projects = local_projects(layout)
    indexed = set(read_root_index(layout.simple))
    workers = max(1, config.mirror.verifiers)
    with cf.ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify-aux") as aux:
        upstream_future = aux.submit(_upstream_names, config, layout, stop)
        walk_future = aux.submit(_walk_packages, layout)
        with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
            futures = [
                pool.submit(_check_project, config, layout, filt, norm, norm in indexed, stop)
                for norm in sorted(projects)
            ]
            checks = [c for c in (f.result() for f in futures) if c is not None]
        on_disk = walk_future.result()
        try:
            upstream = upstream_future.result()
            report.upstream_checked = True
        except (MirrorError, Stopped) as exc:
            upstream = None
            report.upstream_error = str(exc) or type(exc).__name__
    report.projects_checked = len(checks)
    listed: set[str] = set()
    for check in checks:
        listed |= check.listed
        report.files_checked += check.files_checked
        report.bytes_checked += check.disk_bytes
        report.problems += check.problems
    for rel in sorted(set(on_disk) - listed):
        report.problems.append(Problem("orphan", None, rel, _size_or_zero(layout.web / rel), "no page lists this file"))
    for rel, size in sorted(_json_copy_orphans(layout, set(projects)).items()):
        report.problems.append(Problem("orphan", None, rel, size, "JSON copy of a project the mirror does not hold"))
    for check in checks:
        gone = upstream is not None and check.name not in upstream
        if gone:
            report.problems.append(Problem("gone-upstream", check.name, f"simple/{check.name}/", check.disk_bytes, "upstream no longer lists this project", files=check.disk_files))
        elif filt.active and not filt.admits_project(check.name):
            report.problems.append(Problem("excluded-project", check.name, f"simple/{check.name}/", check.disk_bytes, "excluded by the filters", files=check.disk_files))
        else:
            report.problems += check.excluded
    return checks, projects


# -- actions -----------------------------------------------------------------------------------


def _repair(config: Config, layout: Layout, stop: StopToken, checks: dict[str, ProjectCheck], problems: list[Problem], report: VerifyReport) -> None:
    """Re-download corrupt / missing files, project by project, on `verifiers` threads."""
    by_project: dict[str, list[Problem]] = {}
    for p in problems:
        if p.project:
            by_project.setdefault(p.project, []).append(p)
    if not by_project:
        return
    try:
        layout.tmp.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, str(layout.tmp)) from exc
    upstream = Upstream(config.mirror, stop, layout.tmp)
    lock = threading.Lock()

    def repair_project(norm: str, items: list[Problem]) -> None:
        page = checks[norm].page
        assert page is not None
        try:
            answer = upstream.project_json(norm)
        except Stopped:
            return
        except ProjectError as exc:
            for p in items:
                p.detail += f"; cannot repair: {exc}"
            return
        upstream_files = {}
        for files in ((answer.data or {}).get("releases") or {}).values():
            for f in files or []:
                if isinstance(f, dict) and isinstance(f.get("filename"), str):
                    upstream_files[f["filename"]] = f
        page_files = {f.rel_path: f for f in page.files if f.rel_path}
        for p in items:
            if stop.stopped:
                return
            assert p.path is not None
            is_meta = p.path.endswith(".metadata") and p.path not in page_files
            pf = page_files.get(p.path[: -len(".metadata")] if is_meta else p.path)
            source = upstream_files.get(pf.filename) if pf else None
            if pf is None or source is None or not isinstance(source.get("url"), str):
                p.detail += "; cannot repair: upstream no longer has this file (a sync will update the page)"
                continue
            url = source["url"].split("#", 1)[0]
            if is_meta:
                url, sha, size = url + ".metadata", pf.metadata_sha256, None
            else:
                sha = pf.sha256 or (source.get("digests") or {}).get("sha256")
                size = pf.size if pf.size is not None else source.get("size")
            if not sha:
                p.detail += "; cannot repair: no hash to verify a download against"
                continue
            try:
                n = upstream.download(url, layout.web / p.path, sha, size)
            except (ProjectError, Stopped) as exc:
                p.detail += f"; cannot repair: {exc}"
                continue
            p.fixed = True
            with lock:
                report.repaired_files += 1
                report.repaired_bytes += n
            log.info("Repaired %s (%d bytes)", p.path, n)

    try:
        with cf.ThreadPoolExecutor(max_workers=max(1, config.mirror.verifiers), thread_name_prefix="repair") as pool:
            futures = [pool.submit(repair_project, norm, items) for norm, items in sorted(by_project.items())]
            for fut in futures:
                fut.result()
    finally:
        upstream.close()


def _delete(config: Config, layout: Layout, checks: dict[str, ProjectCheck], problems: list[Problem], report: VerifyReport) -> None:
    """Remove what `--delete` covers; every index is rewritten before the files it listed go."""
    doomed_projects = sorted({p.project for p in problems if p.kind in ("gone-upstream", "excluded-project") and p.project})
    if doomed_projects:
        removal = remove_projects(config, layout, doomed_projects, dry_run=False)
        report.deleted_projects += removal.projects
        report.deleted_files += len(removal.files)
        report.freed_bytes += removal.bytes
        for p in report.problems:
            if p.project in set(removal.projects):
                p.fixed = True  # damage inside a removed project is gone with it

    missing_pages = [p for p in problems if p.kind == "missing-page" and not p.fixed and p.project]
    if missing_pages:
        names = {p.project for p in missing_pages}
        indexed = read_root_index(layout.simple)
        if names & set(indexed):
            write_root_index(config, layout, {k: v for k, v in indexed.items() if k not in names})
        for p in missing_pages:
            pdir = layout.project_dir(p.project or "")
            try:
                pdir.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                p.detail += f"; cannot remove {pdir}: {exc.strerror}"
            p.fixed = not pdir.exists()

    excluded: dict[str, list[Problem]] = {}
    for p in problems:
        if p.kind == "excluded-file" and p.project and not p.fixed:
            excluded.setdefault(p.project, []).append(p)
    to_unlink: list[str] = []
    for norm, items in sorted(excluded.items()):
        page = checks[norm].page
        assert page is not None
        names = {f.filename for f in page.files if (f.rel_path or f.href) in {p.path for p in items}}
        rewrite_project_without(config, layout, norm, page, names)
        for f in page.files:
            if f.filename in names and f.rel_path:
                to_unlink += [f.rel_path, f.rel_path + ".metadata"]
    if to_unlink:
        DurabilityBarrier(layout.root).flush()  # new pages durable before the files go
        removed, freed = unlink_files(layout, to_unlink)
        report.deleted_files += len(removed)
        report.freed_bytes += freed
    for items in excluded.values():
        for p in items:
            p.fixed = True

    orphans = [p for p in problems if p.kind == "orphan" and p.path and not p.fixed]
    if orphans:
        removed, freed = unlink_files(layout, [p.path for p in orphans if p.path])
        report.deleted_files += len(removed)
        report.freed_bytes += freed
        for p in orphans:
            p.fixed = True


# -- output ------------------------------------------------------------------------------------


def _would(report: VerifyReport, repair: bool, delete: bool) -> dict[str, Any]:
    repairable = [p for p in report.problems if p.kind in _REPAIRABLE]
    deletable = [p for p in report.problems if p.kind in _DELETABLE]
    project_kinds = ("gone-upstream", "excluded-project")
    doomed = {p.project for p in deletable if p.kind in project_kinds}
    return {
        "repair_files": len([p for p in repairable if p.project not in doomed]),
        "repair_bytes": sum(p.expected_bytes or p.bytes for p in repairable if p.project not in doomed),
        "delete_projects": sorted(p for p in doomed if p),
        "delete_bytes": sum(p.bytes for p in deletable if p.kind in project_kinds or p.project not in doomed),
        "delete_files": sum(p.files for p in deletable if p.kind in project_kinds or p.project not in doomed),
    }


def _print_human(report: VerifyReport, repair: bool, delete: bool, out: Any) -> None:
    for p in report.problems:
        where = p.path or ""
        project = f" [{p.project}]" if p.project and p.kind not in ("gone-upstream", "excluded-project", "missing-page") else ""
        state = " (fixed)" if p.fixed else ""
        name = p.project if p.kind in ("gone-upstream", "excluded-project", "missing-page") else where
        print(f"{p.kind}: {name}{project}: {p.bytes} bytes: {p.detail}{state}", file=out)
    counts = Counter(p.kind for p in report.problems)
    summary = ", ".join(f"{counts[k]} {k}" for k in KINDS if counts[k]) or "no problems"
    print(
        f"Verify finished: {report.projects_checked} projects, {report.files_checked} files, "
        f"{report.bytes_checked} bytes checked: {summary}",
        file=out,
    )
    if report.upstream_error:
        print(f"upstream project list unavailable, projects gone upstream not checked: {report.upstream_error}", file=out)
    would = _would(report, repair, delete)
    if not repair and would["repair_files"]:
        print(f"would re-download {would['repair_files']} files ({would['repair_bytes']} bytes) with --repair", file=out)
    if not delete and (would["delete_files"] or would["delete_projects"]):
        print(
            f"would delete {would['delete_files']} files and {len(would['delete_projects'])} projects "
            f"({would['delete_bytes']} bytes) with --delete",
            file=out,
        )
    if repair:
        print(f"repaired {report.repaired_files} files ({report.repaired_bytes} bytes)", file=out)
    if delete:
        print(
            f"deleted {report.deleted_files} files and {len(report.deleted_projects)} projects, "
            f"freed {report.freed_bytes} bytes",
            file=out,
        )
    left = report.left()
    if left:
        print(f"{len(left)} problems left", file=out)


def _json_doc(report: VerifyReport, repair: bool, delete: bool, code: ExitCode) -> dict[str, Any]:
    counts = Counter(p.kind for p in report.problems)
    return {
        "directory": report.directory,
        "dry_run": report.dry_run,
        "repair": repair,
        "delete": delete,
        "projects_checked": report.projects_checked,
        "files_checked": report.files_checked,
        "bytes_checked": report.bytes_checked,
        "upstream_checked": report.upstream_checked,
        "upstream_error": report.upstream_error or None,
        "counts": {k: counts[k] for k in KINDS},
        "problems": [asdict(p) for p in report.problems],
        "would": _would(report, repair, delete),
        "repaired": {"files": report.repaired_files, "bytes": report.repaired_bytes},
        "deleted": {"files": report.deleted_files, "projects": report.deleted_projects, "bytes": report.freed_bytes},
        "problems_left": len(report.left()),
        "errors": report.errors,
        "exit_code": int(code),
    }


# -- entry point -------------------------------------------------------------------------------


def verify_tree(config: Config, *, repair: bool, delete: bool, stop: StopToken) -> tuple[VerifyReport, ExitCode]:
    """Inspect the tree and apply the requested fixes; the report and the exit code."""
    layout = Layout(config.directory)
    report = VerifyReport(directory=str(config.directory), dry_run=not (repair or delete))
    if not layout.web.is_dir():
        report.errors.append(f"no mirror at {config.directory} ({layout.web} does not exist)")
        return report, ExitCode.FAILED
    filt = load_filter(config)
    codes: list[ExitCode] = []
    try:
        checks, _projects = _inspect(config, layout, filt, stop, report)
        if stop.stopped:
            return report, stop.exit_code or ExitCode.INTERRUPTED
        by_name = {c.name: c for c in checks}
        if repair:
            doomed = {p.project for p in report.problems if p.kind in ("gone-upstream", "excluded-project")} if delete else set()
            excluded_paths = {p.path for p in report.problems if p.kind == "excluded-file"}
            targets = [
                p
                for p in report.problems
                if p.kind in _REPAIRABLE
                and p.project not in doomed
                and p.path not in excluded_paths
                and (p.path or "").removesuffix(".metadata") not in excluded_paths
            ]
            _repair(config, layout, stop, by_name, targets, report)
        if stop.stopped:
            return report, stop.exit_code or ExitCode.INTERRUPTED
        if delete:
            _delete(config, layout, by_name, report.problems, report)
        if report.repaired_files or report.deleted_files or report.deleted_projects:
            touch_last_modified(layout)
    except StorageError as exc:
        report.errors.append(str(exc))
        codes.append(ExitCode.STORAGE)
    if report.upstream_error:
        codes.append(ExitCode.UNREACHABLE)
    if report.left():
        codes.append(ExitCode.FAILED)
    return report, most_urgent(*codes)


def run_verify(config: Config, *, repair: bool, delete: bool, as_json: bool, stop: StopToken) -> ExitCode:
    """CLI entry point: verify, print the report (text or one JSON document), return the exit code."""
    report, code = verify_tree(config, repair=repair, delete=delete, stop=stop)
    if as_json:
        json.dump(_json_doc(report, repair, delete, code), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _print_human(report, repair, delete, sys.stdout)
    for error in report.errors:
        print(f"pypi-mirror: verify: {error}", file=sys.stderr)
    sys.stdout.flush()
    return code


__all__ = ["KINDS", "Problem", "VerifyReport", "run_verify", "sha256_file", "verify_tree"]
