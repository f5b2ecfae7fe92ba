"""How `verify` tells what it found: lines for a person, or one JSON document (`--json`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any, TextIO

from mirror_tool.exitcodes import ExitCode
from mirror_tool.maintenance.inspect import DELETABLE, KINDS, PROJECT_KINDS, REPAIRABLE, VerifyReport


def would(report: VerifyReport) -> dict[str, Any]:
    """What `--repair` and `--delete` would do (problems inside doomed projects go with them)."""
    repairable = [p for p in report.problems if p.kind in REPAIRABLE]
    deletable = [p for p in report.problems if p.kind in DELETABLE]
    doomed = {p.project for p in deletable if p.kind in PROJECT_KINDS}
    return {
        "repair_files": len([p for p in repairable if p.project not in doomed]),
        "repair_bytes": sum(p.expected_bytes or p.bytes for p in repairable if p.project not in doomed),
        "delete_projects": sorted(p for p in doomed if p),
        "delete_bytes": sum(p.bytes for p in deletable if p.kind in PROJECT_KINDS or p.project not in doomed),
        "delete_files": sum(p.files for p in deletable if p.kind in PROJECT_KINDS or p.project not in doomed),
    }


def print_human(report: VerifyReport, repair: bool, delete: bool, out: TextIO) -> None:
    whole_project = ("gone-upstream", "excluded-project", "missing-page")
    for p in report.problems:
        project = f" [{p.project}]" if p.project and p.kind not in whole_project else ""
        state = " (fixed)" if p.fixed else ""
        name = p.project if p.kind in whole_project else p.path or ""
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
    plan = would(report)
    if not repair and plan["repair_files"]:
        print(f"would re-download {plan['repair_files']} files ({plan['repair_bytes']} bytes) with --repair", file=out)
    if not delete and (plan["delete_files"] or plan["delete_projects"]):
        print(
            f"would delete {plan['delete_files']} files and {len(plan['delete_projects'])} projects "
            f"({plan['delete_bytes']} bytes) with --delete",
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


def json_doc(report: VerifyReport, repair: bool, delete: bool, code: ExitCode) -> dict[str, Any]:
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
        "would": would(report),
        "repaired": {"files": report.repaired_files, "bytes": report.repaired_bytes},
        "deleted": {"files": report.deleted_files, "projects": report.deleted_projects, "bytes": report.freed_bytes},
        "problems_left": len(report.left()),
        "errors": report.errors,
        "exit_code": int(code),
    }


__all__ = ["json_doc", "print_human", "would"]
