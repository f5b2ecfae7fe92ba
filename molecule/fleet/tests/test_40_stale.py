"""Stale CDN pages: the fake upstream keeps serving a project's old pages after a new upload.

With PURGE allowed (open mode) the wrapper purges and the host converges in one run; with PURGE
refused (auth mode, no key on the host) the run exits 3 and the metrics count the stale project.
One host is enough: the other two see the same upstream.
"""

from __future__ import annotations

import json
import time

import pytest

from scenario import (DATA_DIR, SIMPLE_JSON, cron_job, metrics, mirror_serial, podman_host, read_config,
                      run_like_cron, upstream)

testinfra_hosts = [podman_host("mirror01.dfw")]


@pytest.fixture
def clean_upstream(quiet_fleet):
    upstream("unpin", {})
    upstream("clear-log", {})
    yield
    upstream("unpin", {})
    upstream("purge-mode", {"mode": "open"})


def _new_version() -> str:
    """A version never uploaded before, so verify can run again against the same upstream."""
    return f"3.0.{time.time_ns() // 1_000_000}"


def _make_stale(name: str, version: str) -> int:
    """Freeze the project's CDN pages, then publish a release behind them; returns the new serial."""
    upstream("pin", {"name": name})
    return upstream("upload", {"name": name, "version": version})["last_serial"]


def _mirror_versions(host, normalized: str) -> list[str]:
    page = host.check_output(f"curl -sS -H 'Accept: {SIMPLE_JSON}' http://127.0.0.1/simple/{normalized}/")
    return json.loads(page)["versions"]


def test_open_purge_converges_in_one_run(host, clean_upstream):
    upstream("purge-mode", {"mode": "open"})
    version = _new_version()
    serial = _make_stale("Pre.Release", version)
    result = run_like_cron(host, cron_job(host))
    assert result.rc == 0, f"exit {result.rc}"
    assert mirror_serial(host) == serial
    assert version in _mirror_versions(host, "pre-release")
    purges = upstream("purges")["purges"]
    assert any(p["status"] == 200 and "pre-release" in p["path"].lower().replace(".", "-")
               for p in purges), purges
    m = metrics(host)
    assert m["pypi_mirror_stale_projects"] == 0
    assert m["pypi_mirror_last_run_purges_sent"] >= 1
    stale = json.loads(host.file(f"{DATA_DIR}/stale.json").content_string)
    assert stale["projects"] == {}


def test_refused_purge_exits_3_and_counts_the_stale_project(host, clean_upstream):
    upstream("purge-mode", {"mode": "auth"})
    version = _new_version()
    _make_stale("Yanked-Pkg", version)
    result = run_like_cron(host, cron_job(host))
    assert result.rc == 3, f"exit {result.rc}"
    m = metrics(host)
    assert m["pypi_mirror_stale_projects"] == 1
    assert m["pypi_mirror_exit_code"] == 3
    assert m["pypi_mirror_last_run_purges_unauthorized"] == 1
    stale = json.loads(host.file(f"{DATA_DIR}/stale.json").content_string)
    assert list(stale["projects"]) == ["yanked-pkg"]
    assert version not in _mirror_versions(host, "yanked-pkg")
    purges = upstream("purges")["purges"]
    assert purges and all(p["status"] == 401 and not p["key_sent"] for p in purges), purges


def test_next_due_run_converges_once_the_cdn_is_fresh(host, clean_upstream):
    """After the refused PURGE the project waits `retry-interval`; the wrapper's test clock
    (PYPI_MIRROR_RUN_CLOCK_OFFSET, docs/design.md) crosses it instead of sleeping."""
    upstream("unpin", {})
    interval = float(read_config(host).get("wrapper", "retry-interval", fallback="300"))
    result = run_like_cron(host, cron_job(host), {"PYPI_MIRROR_RUN_CLOCK_OFFSET": str(int(interval) + 60)})
    assert result.rc == 0, f"exit {result.rc}"
    assert metrics(host)["pypi_mirror_stale_projects"] == 0
    assert mirror_serial(host) == upstream("state")["last_serial"]
    assert json.loads(host.file(f"{DATA_DIR}/stale.json").content_string)["projects"] == {}
