"""The fleet's faults: a replica's no-op, the hub killed mid-sync, a replica down longer than the
journal keeps, and playbooks/status.yml while the hub is stopped.

Cron is stopped (quiet_fleet): every sync here is the cron line run by hand, exactly as cron
would run it. The replicas sync from the hub only; the upstream's request log proves they never
asked it anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scenario import (CONFIG, DATA_DIR, HUB, REPLICAS, USER, VENV, container_ip, cron_job, journal_head,
                      mirror_serial, run_like_cron, start_like_cron, upstream, wait_cron_lock_free, wait_for,
                      wrapper_log_path)

REPO = Path(__file__).resolve().parents[3]
HUB_ACCESS_LOG = "/var/log/nginx/pypi-mirror/access.log"


def _sync(host) -> None:
    result = run_like_cron(host, cron_job(host))
    assert result.rc == 0, f"{host.backend.get_hostname()}: cron line exited {result.rc}:\n" + host.run(
        f"tail -n 20 {wrapper_log_path(host)}").stdout


def _sync_fleet(fleet) -> None:
    _sync(fleet[HUB])
    for name in REPLICAS:
        _sync(fleet[name])


def _version() -> str:
    return f"6.0.{time.time_ns() // 1_000_000}"


def _versions(host, normalized: str) -> list[str]:
    return json.loads(host.file(f"{DATA_DIR}/web/simple/{normalized}/index.v1_json").content_string)["versions"]


def _verify(host) -> None:
    """`pypi-mirror verify`: every page's files present with their hashes, nothing missing."""
    res = host.run(f"setpriv --reuid={USER} --regid={USER} --init-groups {VENV}/bin/pypi-mirror -c {CONFIG} verify")
    assert res.rc == 0, res.stdout[-2000:] + res.stderr[-2000:]


def test_the_replicas_never_asked_the_upstream(fleet):
    """Since the scenario's hosts were created, through converge, cron runs and the syncs above,
    the fake upstream logged requests from the hub and none from a replica."""
    clients = {entry["client"] for entry in upstream("requests")["requests"]}
    assert container_ip(HUB) in clients, "the request log sees the fleet (the hub's requests)"
    for name in REPLICAS:
        assert container_ip(name) not in clients, f"{name} sent requests to the upstream"


def test_a_replica_no_op_is_one_get_to_the_hub(fleet, quiet_fleet):
    _sync_fleet(fleet)
    replica = REPLICAS[0]
    address = container_ip(replica)
    before = len(fleet[HUB].file(HUB_ACCESS_LOG).content_string.splitlines())
    _sync(fleet[replica])
    lines = fleet[HUB].file(HUB_ACCESS_LOG).content_string.splitlines()[before:]
    requests = [line.split('"')[1] for line in lines if line.startswith(address + " ")]
    assert requests == ["GET /changes/head.json HTTP/1.1"]


def test_killing_the_hub_mid_sync_leaves_the_replicas_at_its_last_consistent_serial(fleet, quiet_fleet):
    hub = fleet[HUB]
    _sync_fleet(fleet)
    slow, fast = _version(), _version() + "1"
    upstream("upload", {"name": "Pre.Release", "version": slow})      # the earlier serial: slow files
    target = upstream("upload", {"name": "Foo.Bar", "version": fast})["last_serial"]
    fault = upstream("fault", {"kind": "latency", "regex": f"pre_release-{slow}", "latency": 30})["id"]
    try:
        start_like_cron(hub, cron_job(hub))
        wait_for(lambda: hub.file(f"{DATA_DIR}/web/simple/foo-bar/index.v1_json").contains(fast), 90, 1,
                 "the hub to publish Foo.Bar while Pre.Release still downloads")
        pid = int(hub.file(f"{DATA_DIR}/.lock").content_string.split()[0])
        assert hub.run(f"kill -9 {pid}").rc == 0
        wait_cron_lock_free(hub, 60)
        published = journal_head(hub)["serial"]
        assert published < target, "killed mid-sync: the hub's head stops below the upstream"
        assert mirror_serial(hub) == published
        for name in REPLICAS:
            replica = fleet[name]
            _sync(replica)
            assert mirror_serial(replica) == published, f"{name} must hold exactly the hub's published serial"
            assert slow not in _versions(replica, "pre-release")
            _verify(replica)
    finally:
        upstream("remove-fault", {"id": fault})
    _sync_fleet(fleet)
    for name in (HUB, *REPLICAS):
        assert mirror_serial(fleet[name]) == upstream("state")["last_serial"]
        assert slow in _versions(fleet[name], "pre-release") and fast in _versions(fleet[name], "foo-bar")


@pytest.fixture
def short_retention(fleet):
    """The hub's journal keeps 10 s instead of a week (its config edited, then put back)."""
    hub = fleet[HUB]
    assert hub.run(f"cp -p {CONFIG} {CONFIG}.fleet-test").rc == 0
    assert hub.run(f"sed -i 's/^journal-retention = .*/journal-retention = 10/' {CONFIG}").rc == 0
    yield
    assert hub.run(f"mv {CONFIG}.fleet-test {CONFIG}").rc == 0


def test_a_replica_down_longer_than_the_retention_catches_up(fleet, quiet_fleet, short_retention):
    hub, replica = fleet[HUB], fleet[REPLICAS[-1]]
    _sync_fleet(fleet)
    left_at = mirror_serial(replica)
    upstream("upload", {"name": "Foo.Bar", "version": _version()})
    upstream("upload", {"name": "Needs-Py", "version": _version()})
    # The replica is "down" (cron stopped); the hub syncs on until its journal no longer reaches back.
    wait_for(lambda: (_sync(hub), journal_head(hub)["since"] > left_at)[1], 120, 1,
             "the hub's journal to prune the entries the replica missed")
    log = wrapper_log_path(replica)
    before = len(replica.file(log).content_string.splitlines())
    _sync(replica)
    assert mirror_serial(replica) == mirror_serial(hub) == upstream("state")["last_serial"]
    new_lines = "\n".join(replica.file(log).content_string.splitlines()[before:])
    assert "older than the journal keeps" in new_lines, new_lines[-2000:]
    _verify(replica)


def _status_playbook(*extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "false"}
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/status.yml",
                           "-i", "inventory/local", *extra], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def _row(output: str, host: str) -> str:
    rows = [line for line in output.splitlines() if f'"{host} ' in line]
    assert rows, f"no table row for {host}:\n{output[-3000:]}"
    return rows[0]


def test_status_playbook_reports_the_lag_while_the_hub_is_stopped(fleet, quiet_fleet):
    hub = fleet[HUB]
    _sync_fleet(fleet)
    ok = _status_playbook()
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-2000:]
    assert "BEHIND UPSTREAM" in ok.stdout and "changed=0" in ok.stdout

    assert hub.run("systemctl stop nginx").rc == 0
    try:
        serial = mirror_serial(hub)
        upstream("upload", {"name": "Foo.Bar", "version": _version()})
        behind = upstream("state")["last_serial"] - serial
        lagging = _status_playbook("-e", "pypi_mirror_status_max_lag=0")
        out = lagging.stdout
        assert lagging.returncode != 0, out[-3000:]
        assert f" {behind} " in _row(out, HUB).split("hub")[1], _row(out, HUB)
        for name in REPLICAS:
            row = _row(out, name)
            assert "replica" in row and "hub unreachable" in row, row
            assert f" {behind} " in row.split("unreachable")[1], row
        assert "serials behind the upstream (limit 0)" in out
        checked = _status_playbook("--check", "-e", "pypi_mirror_status_max_lag=0")
        recap = [line for line in checked.stdout.splitlines() if "changed=" in line and "ok=" in line]
        assert len(recap) == 3 and all("changed=0" in line for line in recap), checked.stdout[-2000:]
    finally:
        hub.run("systemctl start nginx")
    _sync_fleet(fleet)
    again = _status_playbook()
    assert again.returncode == 0, again.stdout[-3000:]
