"""What `verify` finds: every published page read once, every listed file hashed, `packages/`
listed once for orphans, and upstream's project list asked for once.

Pages are read from the JSON page when there is one (one `json.loads` per project); files are
hashed on `verifiers` threads (hashlib releases the GIL on large buffers) while the storage lists
`packages/` and upstream answers on two more. Nothing here changes the tree.
"""

from __future__ import annotations

import concurrent.futures as cf
from array import array
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mirror_tool.config import Config
from mirror_tool.errors import MirrorError
from mirror_tool.index.read import read_project
from mirror_tool.names import normalize
from mirror_tool.records import Project, ReleaseFile
from mirror_tool.stop import StopToken
from mirror_tool.storage import keys
from mirror_tool.storage.base import Storage
from mirror_tool.upstream.client import Stopped
from mirror_tool.upstream.hub import open_upstream

if TYPE_CHECKING:
    from mirror_tool.filters import FilterChain

KINDS = ("corrupt", "missing", "orphan", "missing-page", "gone-upstream", "excluded-project", "excluded-file")
REPAIRABLE = frozenset({"corrupt", "missing"})
DELETABLE = frozenset({"orphan", "missing-page", "gone-upstream", "excluded-project", "excluded-file"})
PROJECT_KINDS = ("gone-upstream", "excluded-project")


@dataclass
class Problem:
    """One finding. `path` is a key below `web/`; `bytes` is what is on disk (0 when missing)."""

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
    page: Project | None
    listed: set[str] = field(default_factory=set)  # keys the page references (incl. .metadata)
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


def check_file(storage: Storage, key: str, sha256: str | None, size: int | None, project: str,
               deep: bool = False) -> tuple[Problem | None, int]:
    """(problem or None, bytes on disk) for one listed file: its size, and its sha256 as the
    backend stored it (object metadata), or read from the bytes when none is stored or `deep`."""
    try:
        info = storage.stat(key)
        if info is None:
            return Problem("missing", project, key, 0, "listed by the page, not on disk", files=0, expected_bytes=size), 0
        if size is not None and info.size != size:
            detail = f"size {info.size} != page size {size}"
            return Problem("corrupt", project, key, info.size, detail, expected_bytes=size), info.size
        if not sha256:
            got = None
        elif info.sha256 is not None and not deep:
            got = info.sha256
        else:
            got = storage.sha256(key)
    except MirrorError as exc:
        return Problem("corrupt", project, key, 0, f"unreadable: {exc}", expected_bytes=size), 0
    if sha256 and got != sha256.lower():
        detail = f"sha256 {got} != page sha256 {sha256}"
        return Problem("corrupt", project, key, info.size, detail, expected_bytes=size), info.size
    return None, info.size


def check_project(config: Config, storage: Storage, filters: "FilterChain", norm: str, indexed: bool, stop: StopToken,
                  deep: bool = False) -> ProjectCheck | None:
    if stop.stopped:
        return None
    page = read_project(storage, norm, config.mirror.root_uri)
    check = ProjectCheck(norm, page)
    if page is None:
        where = "listed in the global index without a readable page" if indexed else "page directory without a readable page"
        check.problems.append(Problem("missing-page", norm, f"simple/{norm}/", 0, where, files=0))
        return check
    disk_sizes: dict[str, int] = {}
    for f in page.files:
        if not f.key:
            continue  # release-files = false: the page links upstream
        check.listed.add(f.key)
        problem, on_disk = check_file(storage, f.key, f.sha256, f.size, norm, deep)
        check.files_checked += 1
        disk_sizes[f.filename] = on_disk
        _count(check, problem, on_disk)
        meta = keys.metadata(f.key)
        check.listed.add(meta)  # an unadvertised sibling is harmless, never an orphan
        if f.metadata_sha256:
            problem, on_disk = check_file(storage, meta, f.metadata_sha256, None, norm, deep)
            check.files_checked += 1
            _count(check, problem, on_disk)
    if filters.active and filters.admits_project(norm):
        for f in _excluded_files(filters, page, disk_sizes):
            size, files = 0, 0
            for key in (f.key, keys.metadata(f.key)) if f.key else ():
                info = storage.stat(key)
                if info is not None:
                    size += info.size
                    files += 1
            detail = f"{f.filename} is excluded by the filters"
            check.excluded.append(Problem("excluded-file", norm, f.key or f.url, size, detail, files=files))
    return check


def _count(check: ProjectCheck, problem: Problem | None, on_disk: int) -> None:
    if problem is not None:
        check.problems.append(problem)
        if problem.kind == "missing":
            return
    check.disk_files += 1
    check.disk_bytes += on_disk


def _excluded_files(filters: "FilterChain", page: Project, disk_sizes: dict[str, int]) -> list[ReleaseFile]:
    """Page files the filters reject (the size rule needs a size: the page's, else the disk's)."""
    sized = page.with_files(
        replace(f, size=f.size if f.size is not None else disk_sizes.get(f.filename)) for f in page.files
    )
    admitted = {f.filename for f in filters.filter_project(sized).files}
    return [f for f in page.files if f.filename not in admitted]


def local_projects(storage: Storage, index: set[str]) -> set[str]:
    """Projects the mirror holds: the root index plus every `simple/<name>/` with something in it."""
    found = set(index)
    for info in storage.list(keys.SIMPLE):
        parts = info.key.split("/")
        if len(parts) == 3:
            found.add(parts[1])
    return found


def json_copy_orphans(storage: Storage, local: set[str]) -> dict[str, int]:
    """JSON copies (`json/<name>`, `pypi/<name>/json`) of projects the mirror does not hold."""
    found: dict[str, int] = {}
    for prefix, depth in (("json/", 2), ("pypi/", 3)):
        for info in storage.list(prefix):
            parts = info.key.split("/")
            if len(parts) == depth and (depth == 2 or parts[2] == "json") and normalize(parts[1]) not in local:
                found[info.key] = info.size
    return found


def upstream_names(config: Config, stop: StopToken) -> set[str]:
    """Normalized names upstream lists: the PEP 691 index, else XML-RPC list_packages_with_serial."""
    upstream = open_upstream(config.mirror, stop)
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


def inspect(config: Config, storage: Storage, index: set[str], filters: "FilterChain", stop: StopToken, report: VerifyReport,
            deep: bool = False) -> list[ProjectCheck]:
    """Check every project of the tree and record every problem in `report`; the checks of the
    projects with problems (repair and delete need their pages). `deep`: hash every file's bytes
    even where the storage keeps its sha256.

    Memory stays per project, not per file: projects are checked through a bounded window of
    futures and only those with problems are kept; the keys pages list are kept as 8-byte
    hashes, and `packages/` is streamed past them afterwards (a listing of every file, or a set
    of every listed path, grows with the files: 5.9 KB per project at 100,000 projects)."""
    projects = local_projects(storage, index)
    kept: list[ProjectCheck] = []
    listed = array("q")
    with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-aux") as aux:
        upstream_future = aux.submit(upstream_names, config, stop)
        upstream: set[str] | None = None
        upstream_known = False
        workers = max(1, config.mirror.verifiers)
        with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
            window: deque[cf.Future[ProjectCheck | None]] = deque()
            names = iter(sorted(projects))
            while True:
                for name in names:
                    window.append(pool.submit(check_project, config, storage, filters, name, name in index, stop, deep))
                    if len(window) >= workers * 8:
                        break
                if not window:
                    break
                check = window.popleft().result()
                if check is None:
                    continue
                if not upstream_known:
                    upstream_known = True
                    upstream = _upstream_or_none(upstream_future, report)
                listed.extend(hash(key) for key in check.listed)
                check.listed = set()
                report.projects_checked += 1
                report.files_checked += check.files_checked
                report.bytes_checked += check.disk_bytes
                report.problems += check.problems
                if _judge(check, upstream, filters, report) or check.problems:
                    kept.append(check)
        if not upstream_known:
            _upstream_or_none(upstream_future, report)
    listed_sorted = array("q", sorted(listed))
    del listed
    for info in storage.list(keys.PACKAGES):
        if not _contains(listed_sorted, hash(info.key)):
            report.problems.append(Problem("orphan", None, info.key, info.size, "no page lists this file"))
    for key, size in sorted(json_copy_orphans(storage, projects).items()):
        report.problems.append(Problem("orphan", None, key, size, "JSON copy of a project the mirror does not hold"))
    _order(report)
    return kept


def _upstream_or_none(future: "cf.Future[set[str]]", report: VerifyReport) -> set[str] | None:
    try:
        upstream = future.result()
        report.upstream_checked = True
        return upstream
    except (MirrorError, Stopped) as exc:
        report.upstream_error = str(exc) or type(exc).__name__
        return None


def _judge(check: ProjectCheck, upstream: set[str] | None, filters: "FilterChain", report: VerifyReport) -> bool:
    """The project-level finding for `check` (gone upstream, excluded, or its excluded files)
    into `report`; True when there was one."""
    if upstream is not None and check.name not in upstream:
        report.problems.append(Problem("gone-upstream", check.name, f"simple/{check.name}/", check.disk_bytes,
                                       "upstream no longer lists this project", files=check.disk_files))
        return True
    if filters.active and not filters.admits_project(check.name):
        report.problems.append(Problem("excluded-project", check.name, f"simple/{check.name}/", check.disk_bytes,
                                       "excluded by the filters", files=check.disk_files))
        return True
    report.problems += check.excluded
    return bool(check.excluded)


def _contains(sorted_hashes: array, value: int) -> bool:
    at = bisect_left(sorted_hashes, value)
    return at < len(sorted_hashes) and sorted_hashes[at] == value


def _order(report: VerifyReport) -> None:
    """The report's order: per-project findings (by project), orphan files and orphan JSON
    copies (each by path), then project-level findings (by project)."""

    def rank(p: Problem) -> tuple[int, str]:
        if p.kind == "orphan":
            return (1 if (p.path or "").startswith(keys.PACKAGES) else 2), p.path or ""
        return (3 if p.kind in ("gone-upstream", "excluded-project", "excluded-file") else 0), ""

    report.problems.sort(key=rank)


__all__ = ["DELETABLE", "KINDS", "PROJECT_KINDS", "REPAIRABLE", "Problem", "ProjectCheck", "VerifyReport", "inspect"]
