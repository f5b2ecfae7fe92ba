"""The metric families one run of `pypi-mirror-run` publishes (list in docs/design.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mirror_tool.wrapper.metrics import Metric, counter, gauge
from mirror_tool.wrapper.retry_state import WrapperState

if TYPE_CHECKING:
    from mirror_tool.wrapper.run import RunRecord


def run_metrics(record: "RunRecord", state: WrapperState) -> list[Metric]:
    """Gauges of the last run, counters carried in the state file, per-project stale gauges."""
    purge = record.purge
    last_run = [
        ("last_run_start_timestamp_seconds", "Start of the last pypi-mirror-run (epoch seconds).", record.start_wall),
        ("last_run_end_timestamp_seconds", "End of the last pypi-mirror-run (epoch seconds).", record.end_wall),
        ("last_success_timestamp_seconds",
         "End of the last pypi-mirror-run that exited 0 (epoch seconds; 0 = never).", state.last_success or 0),
        ("serial", "Mirror serial recorded after the last run.", record.mirror_serial or 0),
        ("upstream_serial",
         "Highest upstream serial seen by the last run (when it went backwards: the upstream's lower serial).",
         record.upstream_serial or 0),
        ("upstream_serial_regressed",
         "1 when the last run found the upstream's serial below the mirror's and synced nothing (exit 8).",
         int(record.regressed)),
        ("projects_synced", "Projects synced by the last run (main sync and re-syncs).", len(record.synced)),
        ("projects_failed", "Projects that failed in the last run.", len(record.failed)),
        ("stale_projects", "Projects still stale at the end of the last run.", len(record.stale)),
        ("stale_projects_deferred",
         "Stale projects the last run did not retry (their next retry time had not come).", len(record.deferred)),
        ("files_downloaded", "Release files downloaded by the last run.", record.files_downloaded),
        ("bytes_downloaded", "Bytes of release files downloaded by the last run.", record.bytes_downloaded),
        ("last_run_purges_sent", "PURGE requests the upstream accepted (2xx) in the last run.", purge.sent),
        ("last_run_purges_failed",
         "PURGE requests that failed in the last run (error, timeout, status other than 2xx/401/403).", purge.failed),
        ("last_run_purges_unauthorized",
         "PURGE requests refused with 401/403 in the last run (at most 1: the first ends PURGEs).",
         purge.unauthorized),
        ("run_duration_seconds", "Duration of the last pypi-mirror-run.", round(record.duration, 3)),
        ("exit_code", "Exit code of the last pypi-mirror-run (table in docs/operations.md).", int(record.exit_code)),
    ]
    metrics = [gauge(name, help_text, value) for name, help_text, value in last_run]
    metrics += [
        counter("purges_sent_total", "PURGE requests accepted (2xx), all runs.", state.counters.get("purges_sent", 0)),
        counter("purges_failed_total", "PURGE requests failed, all runs.", state.counters.get("purges_failed", 0)),
        counter("purges_unauthorized_total", "PURGE requests refused with 401/403, all runs.",
                state.counters.get("purges_unauthorized", 0)),
    ]
    attempts = Metric("stale_project_attempts", "gauge",
                      "Failed PURGE + re-sync attempts of a still-stale project, across runs.")
    first_seen = Metric("stale_project_first_seen_timestamp_seconds", "gauge",
                        "When a still-stale project was first seen stale (epoch seconds).")
    next_retry = Metric("stale_project_next_retry_timestamp_seconds", "gauge",
                        "When the wrapper next PURGEs and re-syncs a still-stale project (epoch seconds).")
    for name in record.stale:
        entry = state.projects.get(name)
        if entry is not None:
            attempts.add(entry.attempts, project=name)
            first_seen.add(entry.first_seen, project=name)
            next_retry.add(entry.next_attempt, project=name)
    return metrics + [attempts, first_seen, next_retry]
