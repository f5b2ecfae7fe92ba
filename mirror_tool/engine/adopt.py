"""Taking over a tree bandersnatch 8.2.0 wrote: `pypi-mirror adopt --from-bandersnatch CONFIG`, and
the same (pages only) on the first run over such a tree.

Why: operators switch only if their multi-terabyte tree is kept. The layout below `web/` is the
same, but three things are not, and each would cost a re-download or a full re-check:
- bandersnatch's root `index.v1_json` has no per-project `_last-serial`, so the first
  reconciliation would re-check every project (hashing the whole tree). The serials are seeded
  from each project page (`meta._last-serial`, a string there, or `<!--SERIAL N-->`) and the root
  index is rewritten with them; directories without a page (which its root index lists too) and
  legacy non-normalized directories are left out and reported.
- its `todo` is text (`<target>\\n<Name> <serial>...`); it becomes ours (normalized names), so the
  next run resumes that work instead of moving the file aside as unreadable.
- files: every file a page lists is checked (size, and sha256 unless `--sizes-only`); a project
  whose page lists a missing or wrong file, or whose page cannot be read (a dangling
  `keep_index_versions` symlink), is queued in `todo` so the next run fetches exactly what is
  missing. Nothing present with the right hash is ever downloaded again.
Nothing is deleted: files no page lists (filters and upstream removals never deleted anything in
8.2.0) are left for `verify --delete`. The mirror serial (`status`) is kept: runs continue from
bandersnatch's serial.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from mirror_tool.config import Config
from mirror_tool.engine.publisher import Publisher
from mirror_tool.errors import ConfigError, MirrorError
from mirror_tool.index.read import IndexEntry, read_project
from mirror_tool.names import is_valid_project_name, normalize
from mirror_tool.state import StateFiles, Todo
from mirror_tool.storage import keys
from mirror_tool.storage.base import Storage

log = logging.getLogger("mirror_tool.adopt")

#: How many names a report lists per kind (the counts are complete).
EXAMPLES = 20


@dataclass
class AdoptReport:
    """What adopting found; `queued` projects are synced again by the next run."""

    directory: str
    mirror_serial: int | None = None
    projects: int = 0
    files: int = 0
    bytes: int = 0
    files_checked: str = "sha256"  # sha256 | size | none
    wrong_hash: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    pages_listing_missing: list[str] = field(default_factory=list)
    unreadable_pages: list[str] = field(default_factory=list)
    legacy_directories: list[str] = field(default_factory=list)
    index_without_page: list[str] = field(default_factory=list)
    bandersnatch_todo: int = 0
    queued: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        doc = asdict(self)
        for name in ("wrong_hash", "missing_files", "pages_listing_missing", "unreadable_pages", "legacy_directories",
                     "index_without_page", "queued"):
            doc[name] = {"count": len(doc[name]), "examples": sorted(doc[name])[:EXAMPLES]}
        return doc


def is_bandersnatch_tree(state: StateFiles, storage: Storage) -> bool:
    """A tree with bandersnatch's state (its `status` or `todo`) and none of ours (`state.json`)."""
    if state.state_json.exists() or not (state.status.exists() or state.todo.exists()):
        return False
    return any(True for _ in storage.list(keys.SIMPLE))


def read_bandersnatch_todo(state: StateFiles) -> Todo | None:
    """bandersnatch's text `todo` (target serial, then `<name> <serial>` lines) as ours; None when
    there is none or it is ours (JSON)."""
    try:
        text = state.todo.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or text.lstrip().startswith("{") or len(lines[0]) != 1 or not lines[0][0].isdigit():
        return None
    projects: dict[str, int] = {}
    for parts in lines[1:]:
        if len(parts) == 2 and parts[1].isdigit() and is_valid_project_name(parts[0]):
            norm = normalize(parts[0])
            projects[norm] = max(projects.get(norm, 0), int(parts[1]))
    return Todo(int(lines[0][0]), projects)


def _page_directories(storage: Storage) -> set[str]:
    found = set()
    for info in storage.list(keys.SIMPLE):
        parts = info.key.split("/")
        if len(parts) == 3:
            found.add(parts[1])
    return found


def _hash_index_layout(storage: Storage) -> bool:
    """Pages in `simple/<c>/<name>/` (bandersnatch's `hash-index = true`)."""
    for info in storage.list(keys.SIMPLE):
        parts = info.key.split("/")
        if len(parts) == 4 and len(parts[1]) == 1 and parts[3] in keys.PAGE_NAMES and parts[2].startswith(parts[1]):
            return True
        if len(parts) == 3 and parts[2] in keys.PAGE_NAMES:
            return False
    return False


def adopt_tree(config: Config, storage: Storage, *, check_files: str = "sha256", publisher: Publisher | None = None,
               state: StateFiles | None = None) -> AdoptReport:
    """Take over the tree; `check_files`: `sha256`, `size` or `none` (the automatic first run)."""
    state = state or StateFiles(config.directory)
    report = AdoptReport(str(config.directory), state.read_status(), files_checked=check_files)
    layout_hashed = _hash_index_layout(storage)
    if layout_hashed and not config.mirror.hash_index:
        raise ConfigError("mirror", "hash-index", "the tree keeps its pages in simple/<c>/<name>/ (bandersnatch's "
                          "hash-index = true): set hash-index = true to adopt it")
    todo = read_bandersnatch_todo(state)
    if todo is not None:
        report.bandersnatch_todo = len(todo.projects)
    elif state.todo.exists():
        todo = state.read_todo()  # a tree of ours (adopting again): keep its work
    publisher = publisher or Publisher(storage, config.mirror)
    old_index = publisher.index()
    entries: dict[str, IndexEntry] = {}
    pages: dict[str, Any] = {}
    for name in sorted(_page_directories(storage)):
        if not is_valid_project_name(name) or normalize(name) != name:
            report.legacy_directories.append(name)
            continue
        page = read_project(storage, name, config.mirror.root_uri)
        if page is None:
            report.unreadable_pages.append(name)
            continue
        pages[name] = page
        entries[name] = IndexEntry(page.name, max(page.serial, 0))
    report.projects = len(entries)
    report.index_without_page = sorted(set(old_index) - set(entries) - set(report.unreadable_pages))
    queued: dict[str, int] = dict(todo.projects) if todo else {}
    for name in report.unreadable_pages:
        queued.setdefault(name, 0)
    _check_files(config, storage, pages, report, check_files)
    for name in report.pages_listing_missing + [k.split("/", 1)[0] for k in report.wrong_hash]:
        queued[name] = max(queued.get(name, 0), entries[name].serial)
    report.queued = sorted(queued)
    status = report.mirror_serial or 0
    publisher.replace_index(entries)
    publisher.commit(status)
    if todo is not None and todo.reconcile:
        state.write_todo(replace(todo, projects=queued))  # a reconciliation of ours: its serial stands
    elif queued or todo is not None:
        target = max(status, todo.target_serial if todo else 0)
        state.write_todo(Todo(target, queued))
    if not state.state_json.exists():
        # Ours from now on: a later run (also after this first one was killed) adopts nothing more,
        # and the pending journal of our runs, not adoption, finishes what a killed run left.
        state.write_run_state(state.read_run_state())
    if not config.section("plugins") and [s for s in config.filters.sections if s not in ("filters", "size")]:
        report.notes.append("no [plugins] section: bandersnatch 8.2.0 applied no filter plugin; here the filter "
                            "sections present apply (projects they exclude stay on disk until `verify --delete`)")
    log.info("Adopted the bandersnatch tree in %s: %d projects, %d files, %d queued for re-sync",
             config.directory, report.projects, report.files, len(report.queued))
    return report


def _check_files(config: Config, storage: Storage, pages: dict[str, Any], report: AdoptReport, how: str) -> None:
    """Check every listed file (`how`: sha256, size, none); wrong ones are named `<project>/<key>`."""
    jobs = [(name, f) for name, page in pages.items() for f in page.files if f.key]
    report.files = len(jobs)
    if how == "none":
        return

    def one(job: tuple[str, Any]) -> tuple[str, Any, str, int]:
        """(project, file, "" | "missing" | "wrong", bytes on disk)."""
        name, f = job
        try:
            info = storage.stat(f.key)
            if info is None:
                return name, f, "missing", 0
            if f.size is not None and info.size != f.size:
                return name, f, "wrong", info.size
            if how == "sha256" and (not f.sha256 or storage.sha256(f.key) != f.sha256.lower()):
                return name, f, "wrong", info.size  # no sha256 on the page (digest_name): the next sync judges
        except MirrorError:
            return name, f, "wrong", 0
        return name, f, "", info.size

    import concurrent.futures as cf  # only an explicit adopt checks files: a no-op run never imports it

    missing_pages: set[str] = set()
    with cf.ThreadPoolExecutor(max_workers=max(1, config.mirror.verifiers), thread_name_prefix="adopt") as pool:
        for name, f, problem, size in pool.map(one, jobs, chunksize=64):
            report.bytes += size
            if problem == "missing":
                report.missing_files.append(f"{name}/{f.key}")
                missing_pages.add(name)
            elif problem == "wrong":
                report.wrong_hash.append(f"{name}/{f.key}")
    report.pages_listing_missing = sorted(missing_pages)


def adopt_if_needed(config: Config, storage: Storage, publisher: Publisher, state: StateFiles) -> AdoptReport | None:
    """The first run over a bandersnatch tree adopts it (pages and serials only: the files are
    checked by `pypi-mirror adopt` or `verify`, which a cron run should not wait for)."""
    if not is_bandersnatch_tree(state, storage):
        return None
    log.info("%s holds a bandersnatch tree without our state: adopting it (pages only; `pypi-mirror verify` "
             "checks the files)", config.directory)
    report = adopt_tree(config, storage, check_files="none", publisher=publisher, state=state)
    for note in report.notes:
        log.warning("%s", note)
    return report


def print_report(report: AdoptReport, out: Any) -> None:
    """The human summary `adopt` prints."""
    doc = report.summary()
    print(f"adopted:              {report.directory} (mirror serial {report.mirror_serial})", file=out)
    print(f"projects:             {report.projects}", file=out)
    checked = {"sha256": "size and sha256", "size": "size only", "none": "not checked"}[report.files_checked]
    print(f"files listed:         {report.files} ({report.bytes} bytes on disk; {checked})", file=out)
    for label, name in (("files with a wrong hash", "wrong_hash"), ("files missing", "missing_files"),
                        ("pages listing missing files", "pages_listing_missing"),
                        ("unreadable pages", "unreadable_pages"), ("legacy directories", "legacy_directories"),
                        ("indexed without a page", "index_without_page"), ("queued for re-sync", "queued")):
        entry = doc[name]
        shown = f": {', '.join(entry['examples'])}{' ...' if entry['count'] > len(entry['examples']) else ''}" if entry[
            "count"] else ""
        print(f"{label + ':':<22}{entry['count']}{shown}", file=out)
    print(f"bandersnatch todo:    {report.bandersnatch_todo} projects (resumed by the next run)", file=out)
    for note in report.notes:
        print(f"note: {note}", file=out)


__all__ = ["AdoptReport", "adopt_if_needed", "adopt_tree", "is_bandersnatch_tree", "print_report",
           "read_bandersnatch_todo"]
