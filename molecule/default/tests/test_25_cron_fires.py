"""Cron really runs the sync: a scheduled run of the exact /etc/cron.d line is seen on a mirror.

Runs after the read-only role checks and before any test starts a sync by hand, so every wrapper
run seen here was cron's.
The scenario sets a 5-minute interval (offsets 1, 2, 3 minutes on the three hosts), so the wait
is bounded by the interval plus the run itself.
"""

from __future__ import annotations

import json
import time

from scenario import METRICS_FILE, MIRRORS, cron_job, metrics, wait_for

WAIT_SECONDS = 6 * 60 + 30
#: How long the scheduled run may take to write its metrics once cron started it.
RUN_SECONDS = 300


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

    def metrics_of_that_run():
        # Not "wait until the cron lock is free": cron logs CMD when it forks the job, before the
        # job's `flock -n` takes the lock, so on a loaded host the test could take the free lock
        # first, read no metrics yet, and even make the job's `flock -n` give up. The metrics file
        # is replaced atomically at the end of each run: wait for the one of this run.
        if not host.file(METRICS_FILE).exists:
            return None
        m = metrics(host)
        return m if m.get("pypi_mirror_last_run_start_timestamp_seconds", 0) >= started - 2 else None

    # That run went through the wrapper to the end: it wrote the metrics of a run started by cron.
    m = wait_for(metrics_of_that_run, RUN_SECONDS, interval=2, what=f"the metrics of the run cron started on {name}")
    assert m["pypi_mirror_last_run_start_timestamp_seconds"] >= started - 2
    assert m["pypi_mirror_last_run_end_timestamp_seconds"] >= m["pypi_mirror_last_run_start_timestamp_seconds"]
    assert m["pypi_mirror_exit_code"] == 0, f"the scheduled run on {name} exited {m['pypi_mirror_exit_code']}"
    # and its minute is one of the entry's minutes
    assert time.gmtime(started).tm_min in jobs[name].minutes
