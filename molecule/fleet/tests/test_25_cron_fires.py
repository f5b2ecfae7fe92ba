"""Cron really runs the sync, and the fleet syncs once: an upload reaches the hub at one of its
scheduled runs and every replica within one cron tick after the hub's.

Runs after the read-only role checks and before any test starts a sync by hand, so every wrapper
run seen here was cron's. The scenario syncs every 3 minutes, the hub at offset 0 and the replicas
at 1 and 2, so the waits are bounded by an interval plus the runs themselves.
"""

from __future__ import annotations

import json
import time

from scenario import HUB, REPLICAS, cron_job, metrics, mirror_serial, upstream, wait_cron_lock_free, wait_for

INTERVAL = 3 * 60
SLACK = 90  # cron's own delay plus a run on a busy 2-core machine


def _scheduled_runs(host, command: str) -> list[float]:
    """Epoch seconds of cron's `(pypi-mirror) CMD (<command>)` journal lines on this host."""
    out = host.check_output("journalctl -u cron -o json --no-pager")
    times = []
    for line in out.splitlines():
        entry = json.loads(line)
        if entry.get("MESSAGE") == f"(pypi-mirror) CMD ({command})":
            times.append(int(entry["__REALTIME_TIMESTAMP"]) / 1e6)
    return times


def _serial_or_zero(host) -> int:
    return mirror_serial(host) if host.file("/srv/pypi-mirror/status").exists else 0


def test_an_upload_reaches_the_hub_on_schedule_and_every_replica_one_tick_later(fleet):
    uploaded_at = time.time()
    target = upstream("upload", {"name": "Foo.Bar", "version": f"5.0.{time.time_ns() // 1_000_000}"})["last_serial"]
    hub = fleet[HUB]
    job = cron_job(hub)

    wait_for(lambda: _serial_or_zero(hub) >= target, INTERVAL + SLACK, interval=3,
             what=f"the hub's scheduled sync to reach serial {target}")
    wait_cron_lock_free(hub)
    m = metrics(hub)
    hub_done = m["pypi_mirror_last_run_end_timestamp_seconds"]
    # That run was cron's: its start is a CMD line of cron's journal, at one of the entry's minutes.
    started = [t for t in _scheduled_runs(hub, job.command) if t >= uploaded_at - 2]
    assert started, "no scheduled run of the exact cron line on the hub since the upload"
    assert any(abs(t - m["pypi_mirror_last_run_start_timestamp_seconds"]) < 30 for t in started)
    assert time.gmtime(started[-1]).tm_min in job.minutes
    assert m["pypi_mirror_exit_code"] == 0, f"the hub's scheduled run exited {m['pypi_mirror_exit_code']}"

    for name in REPLICAS:
        replica = fleet[name]
        bound = hub_done + INTERVAL + SLACK - time.time()
        wait_for(lambda: _serial_or_zero(replica) >= target, max(bound, 1), interval=3,
                 what=f"{name} to reach serial {target} within one tick after the hub's run")
        wait_cron_lock_free(replica)
        rm = metrics(replica)
        assert rm["pypi_mirror_exit_code"] == 0
        assert rm["pypi_mirror_last_run_start_timestamp_seconds"] <= hub_done + INTERVAL + SLACK
        assert rm["pypi_mirror_replica"] == 1 and rm["pypi_mirror_hub_serial"] >= target
        assert _scheduled_runs(replica, cron_job(replica).command), f"{name}: the run was not cron's"
