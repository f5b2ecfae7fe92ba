"""The fleet table of playbooks/status.yml (its filter plugin), from `status --json` documents.

The playbook itself runs in the molecule scenario against real hosts; here the verdicts: which
hosts are beyond the limits, what an unreachable host or hub looks like, the upstream's serial.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1] / "playbooks/filter_plugins/pypi_mirror_status.py"
spec = importlib.util.spec_from_file_location("pypi_mirror_status", PLUGIN)
assert spec and spec.loader
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)

NOW = 1_800_000_000.0


def host(groups: list[str], **status: object) -> dict:
    doc = {"mirror_serial": 100, "upstream_serial": 100, "last_success": NOW - 120, "stale": {}, "kind": "pypi",
           "hub_lag_serials": None, "hub_lag_seconds": None, "hub_error": None, "last_exit_code": 0, **status}
    return {"group_names": groups, "_pypi_mirror_status": {"rc": 0, "stdout": json.dumps(doc)}}


def replica(**status: object) -> dict:
    return host(["gra1", "pypi_mirror_replicas", "pypi_mirrors"], **{"kind": "mirror", "hub_lag_serials": 0,
                                                                       "hub_lag_seconds": 0.0, **status})


def table(hostvars: dict, **limits: float) -> dict:
    return plugin.fleet_status(list(hostvars), hostvars, now=NOW, **limits)


def test_a_fleet_in_step_passes_and_shows_every_column() -> None:
    out = table({"hub": host(["dfw", "pypi_mirror_hubs", "pypi_mirrors"]), "r1": replica()})
    assert out["problems"] == [] and out["upstream_serial"] == 100
    lines = out["table"].splitlines()
    assert lines[0].split() == ["HOST", "REGION", "KIND", "SERIAL", "BEHIND", "HUB", "BEHIND", "UPSTREAM", "LAST",
                                "SUCCESS", "(UTC)", "STALE", "EXIT"]
    assert lines[1].split()[:5] == ["hub", "dfw", "hub", "100", "-"]
    assert lines[2].split()[:6] == ["r1", "gra1", "replica", "100", "0", "(0s)"]
    assert "(2m ago)" in lines[1]


def test_lag_behind_the_upstream_and_the_hub_are_problems_past_the_limits() -> None:
    hostvars = {"hub": host(["dfw", "pypi_mirror_hubs"], mirror_serial=95, upstream_serial=110),
                "r1": replica(mirror_serial=90, hub_lag_serials=5, hub_lag_seconds=4000.0)}
    out = table(hostvars, max_lag=10, max_lag_seconds=3600)
    assert out["upstream_serial"] == 110
    assert out["problems"] == ["hub: 15 serials behind the upstream (limit 10)",
                               "r1: 4000s behind its hub (limit 3600s)",
                               "r1: 20 serials behind the upstream (limit 10)"]
    assert table(hostvars, max_lag=20, max_lag_seconds=5000)["problems"] == []


def test_an_unreachable_host_and_a_silent_hub_are_problems() -> None:
    hostvars = {"hub": {"group_names": ["dfw"], "_pypi_mirror_status": {"unreachable": True, "msg": "down"}},
                "r1": replica(hub_error="no hub answers: refused")}
    out = table(hostvars)
    assert out["problems"] == ["hub: unreachable", "r1: no hub answers: refused"]
    rows = out["table"].splitlines()
    assert rows[1].split()[:4] == ["hub", "dfw", "?", "-"]
    assert "hub unreachable" in rows[2]


def test_a_failed_status_command_names_its_last_line() -> None:
    failed = {"rc": 2, "stderr": "x\npypi-mirror: config error: [mirror] master: bad"}
    hostvars = {"m": {"group_names": ["ord"], "_pypi_mirror_status": failed}}
    assert table(hostvars)["problems"] == ["m: status failed: pypi-mirror: config error: [mirror] master: bad"]
