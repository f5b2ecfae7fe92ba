"""Fixtures of the verify step (see scenario.py for the facts they rely on)."""

from __future__ import annotations

import time

import pytest
import testinfra

from scenario import MIRRORS, cron_job, podman_host, run_like_cron, wait_cron_lock_free


@pytest.fixture(scope="session")
def fleet() -> dict:
    """name -> testinfra host, for tests that look at several mirrors at once."""
    return {name: testinfra.get_host(podman_host(name)) for name in MIRRORS}


@pytest.fixture(scope="session")
def quiet_fleet(fleet):
    """Cron stopped and no sync running on any mirror, so a test's own run of the cron command
    never meets `flock -n` busy; cron is started again afterwards (the demo keeps syncing)."""
    for host in fleet.values():
        assert host.run("systemctl stop cron").rc == 0
    time.sleep(1)  # a job cron forked just before the stop has taken its lock by now
    for host in fleet.values():
        wait_cron_lock_free(host)
    yield fleet
    for host in fleet.values():
        host.run("systemctl start cron")


@pytest.fixture(scope="module")
def cron_run(host, quiet_fleet):
    """One run of the cron entry on this host, exactly as cron would start it."""
    job = cron_job(host)
    result = run_like_cron(host, job)
    return job, result
