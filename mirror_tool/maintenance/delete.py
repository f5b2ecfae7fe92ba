"""Taking things out of the published tree: `pypi-mirror delete NAME...` and `verify --delete`.

Operators delete a project when upstream takes it down (malware, legal) and the mirror must follow
now, not at the next reconciliation. Removed: the root-index entry, the pages, the JSON copies,
the files and `.metadata` siblings, and the project's entries in `todo`, `state.json` and
`stale.json`. Everything goes through the `Publisher`, so indexes are rewritten and flushed
before the files they listed are deleted. Names not in the mirror are reported and skipped
(deleting is idempotent, exit 0). A project still published upstream comes back with the next
reconciliation unless the filters exclude it (`[blocklist] packages`).

Exit codes of `delete`: 0 done (or nothing to do), 2 a NAME that is not a valid project name,
7 storage error.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace

from mirror_tool.config import Config
from mirror_tool.engine.publisher import Publisher
from mirror_tool.errors import StorageError
from mirror_tool.exitcodes import ExitCode
from mirror_tool.index.read import read_html_page, read_project
from mirror_tool.maintenance.inspect import PROJECT_KINDS, Problem, ProjectCheck, VerifyReport
from mirror_tool.names import is_valid_project_name, normalize
from mirror_tool.pending import PendingJournal
from mirror_tool.records import Project
from mirror_tool.state import StateFiles
from mirror_tool.storage import keys, open_storage
from mirror_tool.storage.base import Storage


@dataclass
class Removal:
    """What a removal did (or, in a dry run, would do)."""

    projects: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # keys below web/
    bytes: int = 0


class TreeEditor:
    """The storage, publisher and state files of one mirror, for maintenance edits."""

    def __init__(self, config: Config, storage: Storage | None = None) -> None:
        self.config = config
        self.storage = storage if storage is not None else open_storage(config.mirror)
        # With the journal, a kill between an edit's pages and its deletions is finished by the next run.
        self.publisher = Publisher(self.storage, config.mirror, PendingJournal(config.directory))
        self.state = StateFiles(config.directory)

    def commit(self) -> tuple[list[str], int]:
        """Publish the edits (the root index keeps its serial); (deleted file keys, bytes freed)."""
        serial = self.publisher.index_serial()
        removed = self.publisher.commit(serial if serial is not None else self.state.read_status() or 0)
        return removed.files, removed.bytes

    def remove_projects(self, names: list[str], *, dry_run: bool) -> Removal:
        """Remove whole projects: root-index entries, pages, JSON copies, files, state entries."""
        result = Removal()
        index = self.publisher.index()
        for norm in dict.fromkeys(names):
            present = (
                norm in index
                or any(True for _ in self.storage.list(f"{keys.SIMPLE}{norm}/"))
                or any(self.storage.stat(key) is not None for key in keys.json_copies(norm))
            )
            if not present:
                continue
            result.projects.append(norm)
            page = read_project(self.storage, norm, self.config.mirror.root_uri)
            for f in page.files if page else ():
                for key in (f.key, keys.metadata(f.key)) if f.key else ():
                    info = self.storage.stat(key)
                    if info is not None:
                        result.files.append(key)
                        result.bytes += info.size
        if dry_run or not result.projects:
            return result
        self.publisher.withdraw(result.projects, delete_files=True)
        result.files, result.bytes = self.commit()
        self.state.forget(set(result.projects))
        self.publisher.touch_last_modified()
        return result

    def without_files(self, page: Project, drop: set[str]) -> Project:
        """`page` re-rendered without the files named in `drop` (versions left without files go)."""
        kept = [f for f in page.files if f.filename not in drop]
        kept_versions = {f.version for f in kept}
        dropped_versions = {f.version for f in page.files if f.filename in drop}
        versions = [v for v in page.versions if v in kept_versions or v not in dropped_versions]
        return replace(page.with_files(kept, versions), name=self._display_name(page))

    def _display_name(self, page: Project) -> str:
        """HTML pages show the display name; the JSON page has only the normalized one."""
        if page.name != page.normalized:
            return page.name
        html_page = read_html_page(self.storage, page.normalized)
        if html_page is not None:
            return html_page.name
        entry = self.publisher.index().get(page.normalized)
        return entry.name if entry else page.normalized


def delete_problems(editor: TreeEditor, checks: dict[str, ProjectCheck], problems: list[Problem], report: VerifyReport) -> None:
    """`verify --delete`: projects gone upstream or excluded, pages that are missing, excluded
    files, orphans. Every index is rewritten (and flushed) before the files it listed go."""
    doomed = sorted({p.project for p in problems if p.kind in PROJECT_KINDS and p.project})
    if doomed:
        removal = editor.remove_projects(doomed, dry_run=False)
        report.deleted_projects += removal.projects
        report.deleted_files += len(removal.files)
        report.freed_bytes += removal.bytes
        for p in report.problems:
            if p.project in set(removal.projects):
                p.fixed = True  # damage inside a removed project is gone with it

    missing_pages = [p for p in problems if p.kind == "missing-page" and not p.fixed and p.project]
    excluded: dict[str, list[Problem]] = {}
    for p in problems:
        if p.kind == "excluded-file" and p.project and not p.fixed:
            excluded.setdefault(p.project, []).append(p)
    rewritten, drops = [], {}
    for norm, items in sorted(excluded.items()):
        page = checks[norm].page
        assert page is not None
        paths = {p.path for p in items}
        drops[norm] = {f.filename for f in page.files if (f.key or f.url) in paths}
        rewritten.append(editor.without_files(page, drops[norm]))
    editor.publisher.publish(rewritten, new_files=False, drop_from_copies=drops, prune=True)
    editor.publisher.withdraw([p.project for p in missing_pages if p.project], delete_files=False)
    orphans = [p for p in problems if p.kind == "orphan" and p.path and not p.fixed]
    editor.publisher.discard(p.path for p in orphans if p.path)
    files, freed = editor.commit()
    report.deleted_files += len(files)
    report.freed_bytes += freed
    for p in missing_pages:
        p.fixed = not any(True for _ in editor.storage.list(f"{keys.SIMPLE}{p.project}/"))
    for p in [*orphans, *(p for items in excluded.values() for p in items)]:
        p.fixed = True


def run_delete(config: Config, names: list[str], *, dry_run: bool) -> ExitCode:
    """Remove the named projects (any spelling; normalized here) and print what was removed."""
    bad = [n for n in names if not is_valid_project_name(n)]
    if bad:
        print(f"pypi-mirror: delete: not a valid project name: {bad[0]!r}", file=sys.stderr)
        return ExitCode.CONFIG
    if not names:
        print("pypi-mirror: delete: no project names given", file=sys.stderr)
        return ExitCode.CONFIG
    wanted = list(dict.fromkeys(normalize(n) for n in names))
    try:
        removal = TreeEditor(config).remove_projects(wanted, dry_run=dry_run)
    except StorageError as exc:
        print(f"pypi-mirror: delete: {exc}", file=sys.stderr)
        return ExitCode.STORAGE
    verb = "would delete" if dry_run else "deleted"
    for norm in wanted:
        if norm not in removal.projects:
            print(f"not in the mirror: {norm}")
    for norm in removal.projects:
        print(f"{verb} project: {norm}")
    for key in removal.files:
        print(f"{verb} file: {key}")
    print(f"{verb} {len(removal.projects)} projects, {len(removal.files)} files, {removal.bytes} bytes")
    sys.stdout.flush()
    return ExitCode.OK


__all__ = ["Removal", "TreeEditor", "delete_problems", "run_delete"]
