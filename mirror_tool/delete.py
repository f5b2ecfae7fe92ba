"""`pypi-mirror delete NAME [NAME...] [--dry-run]`: remove projects from the mirror completely.

Operators need this when upstream takes a project down (malware, legal) and the mirror must follow
now, not at the next reconciliation. Removed: the global-index entry, the project pages, the JSON
copies, the files and `.metadata` siblings, and the project's entries in `todo`, `state.json` and
`stale.json`. The global index and pages go first (made durable), the files after, so no page
ever points at a missing file. Names not in the mirror are reported and skipped (deleting is
idempotent, exit 0). A project still published upstream comes back with the next reconciliation
unless the filters exclude it (`[blocklist] packages`).

Exit codes: 0 done (or nothing to do), 2 a NAME that is not a valid project name, 7 storage error.
"""

from __future__ import annotations

import sys

from mirror_tool.config import Config
from mirror_tool.errors import StorageError
from mirror_tool.exitcodes import ExitCode
from mirror_tool.layout import Layout
from mirror_tool.names import is_valid_project_name, normalize
from mirror_tool.tree_edit import remove_projects


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
    layout = Layout(config.directory)
    try:
        removal = remove_projects(config, layout, wanted, dry_run=dry_run)
    except StorageError as exc:
        print(f"pypi-mirror: delete: {exc}", file=sys.stderr)
        return ExitCode.STORAGE
    verb = "would delete" if dry_run else "deleted"
    for norm in wanted:
        if norm not in removal.projects:
            print(f"not in the mirror: {norm}")
    for norm in removal.projects:
        print(f"{verb} project: {norm}")
    for rel in removal.files:
        print(f"{verb} file: {rel}")
    print(f"{verb} {len(removal.projects)} projects, {len(removal.files)} files, {removal.bytes} bytes")
    sys.stdout.flush()
    return ExitCode.OK


__all__ = ["run_delete"]
