"""`pypi-mirror verify [--repair] [--delete] [--json]`: find and fix damage in a mirror tree.

Why it exists: disks rot, operators delete things by hand, upstream removes projects and filters
change; none of that shows up in a sync, which trusts what it wrote.

Problems (the `kind` in the report):
  corrupt           a listed file (or its `.metadata`) whose size or sha256 does not match its page
  missing           a listed file (or advertised `.metadata`) that is not on disk
  orphan            a file below `packages/` no page lists, or a JSON copy of no mirrored project
  missing-page      a project in the global index without a page (or a page directory without pages)
  gone-upstream     a mirrored project upstream no longer lists
  excluded-project  a mirrored project the current filters exclude
  excluded-file     a listed file the current filters exclude

Hashes: a file's sha256 is the one its storage keeps (an object store's object metadata, written
when the file was verified on download), so checking a bucket reads no file; where the storage
keeps none (the filesystem) or with `--deep`, every byte is read and hashed. On the filesystem
`--deep` therefore changes nothing: verify always reads the bytes there.

Dry run by default. `--repair` re-downloads corrupt and missing files (verified against the page's
hash before they replace anything). `--delete` removes orphans, projects gone upstream or excluded
(like `pypi-mirror delete`) and excluded files, rewriting the affected project pages, JSON copies
and the global index first. Exit 0: clean (or everything found was fixed); 1: problems remain;
5: the upstream project list could not be fetched (nothing is judged gone upstream); 7: storage
error; 6/130/143: stopped (nothing more is changed).
"""

from __future__ import annotations

import json
import sys

from mirror_tool.config import Config
from mirror_tool.errors import StorageError
from mirror_tool.exitcodes import ExitCode, most_urgent
from mirror_tool.filters import load_filters
from mirror_tool.maintenance.delete import TreeEditor, delete_problems
from mirror_tool.maintenance.inspect import PROJECT_KINDS, REPAIRABLE, VerifyReport, inspect
from mirror_tool.maintenance.repair import repair as repair_files
from mirror_tool.maintenance.report import json_doc, print_human
from mirror_tool.stop import StopToken


def verify_tree(config: Config, *, repair: bool, delete: bool, stop: StopToken,
                deep: bool = False) -> tuple[VerifyReport, ExitCode]:
    """Inspect the tree and apply the requested fixes; the report and the exit code."""
    report = VerifyReport(directory=str(config.directory), dry_run=not (repair or delete))
    if config.mirror.storage_backend == "filesystem" and not config.web_dir.is_dir():
        report.errors.append(f"no mirror at {config.directory} ({config.web_dir} does not exist)")
        return report, ExitCode.FAILED
    editor = TreeEditor(config)
    filters = load_filters(config)
    codes: list[ExitCode] = []
    try:
        checks = inspect(config, editor.storage, editor.publisher.names(), filters, stop, report, deep)
        if stop.stopped:
            return report, stop.exit_code or ExitCode.INTERRUPTED
        by_name = {c.name: c for c in checks}
        if repair:
            doomed = {p.project for p in report.problems if p.kind in PROJECT_KINDS} if delete else set()
            excluded_paths = {p.path for p in report.problems if p.kind == "excluded-file"}
            targets = [
                p
                for p in report.problems
                if p.kind in REPAIRABLE
                and p.project not in doomed
                and p.path not in excluded_paths
                and (p.path or "").removesuffix(".metadata") not in excluded_paths
            ]
            repair_files(config, editor.storage, stop, by_name, targets, report)
        if stop.stopped:
            return report, stop.exit_code or ExitCode.INTERRUPTED
        if delete:
            delete_problems(editor, by_name, report.problems, report)
        if report.repaired_files or report.deleted_files or report.deleted_projects:
            editor.publisher.touch_last_modified()
    except StorageError as exc:
        report.errors.append(str(exc))
        codes.append(exc.exit_code)
    if report.upstream_error:
        codes.append(ExitCode.UNREACHABLE)
    if report.left():
        codes.append(ExitCode.FAILED)
    return report, most_urgent(*codes)


def run_verify(config: Config, *, repair: bool, delete: bool, as_json: bool, stop: StopToken,
               deep: bool = False) -> ExitCode:
    """CLI entry point: verify, print the report (text or one JSON document), return the exit code."""
    report, code = verify_tree(config, repair=repair, delete=delete, stop=stop, deep=deep)
    if as_json:
        json.dump(json_doc(report, repair, delete, code), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_human(report, repair, delete, sys.stdout)
    for error in report.errors:
        print(f"pypi-mirror: verify: {error}", file=sys.stderr)
    sys.stdout.flush()
    return code


__all__ = ["run_verify", "verify_tree"]
