"""Cron really runs the sync: a scheduled run of the exact /etc/cron.d line is seen on a mirror.

Runs after the read-only role checks and before any test starts a sync by hand, so every wrapper
run seen here was cron's.
The scenario sets a 5-minute interval (offsets 1, 2, 3 minutes on the three hosts), so the wait
is bounded by the interval plus the run itself.
"""

from __future__ import annotations

import json
import time

from scenario import MIRRORS, cron_job, metrics, wait_cron_lock_free, wait_for

WAIT_SECONDS = 6 * 60 + 30


def _scheduled_runs(host, command: str) -> list[float]:
    """Epoch seconds of cron's `(pypi-mirror) CMD (<command>)` journal lines on this host."""
    out = host.check_output("journalctl -u cron -o json --no-pager")
    times = []
    for line in out.splitlines():
        entry = json.loads(line)
        if entry.get("MESSAGE") == f"(pypi-mirror) CMD ({command})":
            times.append(int(entry["__REALTIME_TIMESTAMP"]) / 1e6)
    return times


def test_cron_starts_the_sync_line_on_schedule(fleet):
    jobs = {name: cron_job(fleet[name]) for name in MIRRORS}

    def first_fired():
        for name in MIRRORS:
            runs = _scheduled_runs(fleet[name], jobs[name].command)
            if runs:
                return name, runs[0]
        return None

    name, started = wait_for(first_fired, WAIT_SECONDS, interval=5, what="a scheduled sync in cron's journal")
    host = fleet[name]
    wait_cron_lock_free(host)
    # That run went through the wrapper to the end: it wrote the metrics of a run started by cron.
    m = metrics(host)
    assert m["pypi_mirror_last_run_start_timestamp_seconds"] >= started - 2
    assert m["pypi_mirror_last_run_end_timestamp_seconds"] >= m["pypi_mirror_last_run_start_timestamp_seconds"]
    assert m["pypi_mirror_exit_code"] == 0, f"the scheduled run on {name} exited {m['pypi_mirror_exit_code']}"
    # and its minute is one of the entry's minutes
    assert time.gmtime(started).tm_min in jobs[name].minutes
