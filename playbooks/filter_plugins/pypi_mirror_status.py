"""`pypi_mirror_fleet_status`: the fleet table of playbooks/status.yml from each host's
`pypi-mirror status --json --live`.

Why a filter and not Jinja: the table is aligned columns and the verdict compares numbers across
hosts (the fleet's upstream serial is the highest any host reports); that is a few lines of Python
and unreadable as a template. Pure function of its inputs: tests/test_status_table.py runs it.
"""

from __future__ import annotations

import json
import time
from typing import Any

FLEET_GROUPS = {"pypi_mirrors", "pypi_mirror_hubs", "pypi_mirror_replicas"}
COLUMNS = ("HOST", "REGION", "KIND", "SERIAL", "BEHIND HUB", "BEHIND UPSTREAM", "LAST SUCCESS (UTC)", "STALE", "EXIT")


def _report(result: Any) -> tuple[dict[str, Any] | None, str]:
    """(status document, problem) of one host's registered command result."""
    if not isinstance(result, dict):
        return None, "no status (host skipped)"
    if result.get("unreachable"):
        return None, "unreachable"
    if result.get("rc") != 0:
        lines = (result.get("stderr") or result.get("msg") or "").strip().splitlines()
        return None, f"status failed: {lines[-1] if lines else 'exit %s' % result.get('rc')}"
    try:
        return json.loads(result["stdout"]), ""
    except (KeyError, TypeError, ValueError):
        return None, "status printed no JSON"


def _ago(ts: float | None, now: float) -> str:
    if not ts:
        return "never"
    minutes = max(0, int(now - ts)) // 60
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))
    return f"{when} ({minutes // 60}h{minutes % 60:02d}m ago)" if minutes >= 60 else f"{when} ({minutes}m ago)"


def fleet_status(hosts: list[str], hostvars: Any, max_lag: int = 1000, max_lag_seconds: float = 3600,
                 now: float | None = None) -> dict[str, Any]:
    """{"table": text, "problems": [lines], "upstream_serial": int | None, "rows": [dicts]}.

    A problem: a host without a status, a replica whose hub does not answer, a host more than
    `max_lag` serials behind its hub or the upstream, a replica more than `max_lag_seconds`
    behind its hub.
    """
    now = time.time() if now is None else now
    reports = {}
    problems = []
    for host in hosts:
        report, problem = _report(hostvars[host].get("_pypi_mirror_status"))
        reports[host] = report
        if problem:
            problems.append(f"{host}: {problem}")
    known = [r for r in reports.values() if r is not None]
    upstream = max((int(r.get("upstream_serial") or 0) for r in known), default=None)
    rows = []
    for host in hosts:
        groups = list(hostvars[host].get("group_names", []))
        region = hostvars[host].get("pypi_mirror_region") or next((g for g in groups if g not in FLEET_GROUPS), "-")
        report = reports[host]
        if report is None:
            rows.append({"host": host, "region": region, "kind": "?", "serial": "-", "behind_hub": "-",
                         "behind_upstream": "-", "last_success": "-", "stale": "-", "exit": "-"})
            continue
        serial = report.get("mirror_serial")
        replica = report.get("kind") == "mirror"
        kind = "replica" if replica else ("hub" if "pypi_mirror_hubs" in groups else "standalone")
        behind_hub = "-"
        if replica:
            lag, seconds = report.get("hub_lag_serials"), report.get("hub_lag_seconds")
            behind_hub = "?" if lag is None else f"{lag} ({'?' if seconds is None else int(seconds)}s)"
            if report.get("hub_error"):
                behind_hub += " hub unreachable"
                problems.append(f"{host}: {report['hub_error']}")
            if lag is not None and lag > max_lag:
                problems.append(f"{host}: {lag} serials behind its hub (limit {max_lag})")
            if seconds is not None and seconds > max_lag_seconds:
                problems.append(f"{host}: {int(seconds)}s behind its hub (limit {int(max_lag_seconds)}s)")
        behind_up = max(0, upstream - (serial or 0)) if upstream is not None else None
        if behind_up is not None and behind_up > max_lag:
            problems.append(f"{host}: {behind_up} serials behind the upstream (limit {max_lag})")
        code = report.get("last_exit_code")
        rows.append({"host": host, "region": region, "kind": kind,
                     "serial": "never synced" if serial is None else str(serial),
                     "behind_hub": behind_hub, "behind_upstream": "?" if behind_up is None else str(behind_up),
                     "last_success": _ago(report.get("last_success"), now),
                     "stale": str(len(report.get("stale") or {})), "exit": "-" if code is None else str(code)})
    cells = [list(COLUMNS)] + [[r["host"], r["region"], r["kind"], r["serial"], r["behind_hub"], r["behind_upstream"],
                                r["last_success"], r["stale"], r["exit"]] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
    lines.append(f"upstream serial (highest any host reports): {upstream if upstream is not None else 'unknown'}")
    return {"table": "\n".join(lines), "problems": problems, "upstream_serial": upstream, "rows": rows}


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"pypi_mirror_fleet_status": fleet_status}
