"""`pypi-mirror-run` end to end against tests/fakepypi (origin + CDN with stale pins and PURGE).

Each test runs the installed console script as its own process, exactly as cron does, and checks
what the fake recorded (PURGEs, requests), the tree on disk, the state file and the metrics file
(parsed with prometheus_client's text parser).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mirror_tool.lock import MirrorLock
from mirror_tool.wrapper.purge import NOT_PERMITTED_LINE
from tests.fakepypi.names import normalize
from tests.support.tree_check import assert_tree_consistent
from tests.test_wrapper_support import (
    LOG_LINE,
    metric,
    read_metrics,
    run_wrapper,
    wrapper_command,
    write_config,
)

KEY = "s3cr3t-fastly-key-for-tests"


@pytest.fixture
def site(tmp_path):
    """Paths of one mirror host under tmp_path."""

    class Site:
        root = tmp_path
        mirror = tmp_path / "mirror"
        config = tmp_path / "pypi-mirror.conf"
        log = tmp_path / "log" / "wrapper.log"
        metrics = tmp_path / "textfile" / "pypi_mirror.prom"
        state = tmp_path / "mirror" / "wrapper-state.json"
        key = tmp_path / "purge-key"

        def configure(self, master: str, mirror: dict | None = None, **wrapper: str) -> Path:
            keys = {"log-file": str(self.log), "metrics-file": str(self.metrics)}
            keys.update({k.replace("_", "-"): v for k, v in wrapper.items()})
            return write_config(self.config, self.mirror, master, mirror, keys)

        def status(self) -> int:
            return int((self.mirror / "status").read_text())

        def wrapper_state(self) -> dict:
            return json.loads(self.state.read_text())

    return Site()


def _initial_sync(site, fp) -> None:
    result = run_wrapper(site.config)
    assert result.returncode == 0, site.log.read_text()
    assert site.status() == fp.last_serial


def _display(fp, norm: str) -> str:
    return fp.projects()[norm]["name"]


def _has_file(site, filename: str) -> bool:
    return any(site.mirror.joinpath("web", "packages").rglob(filename))


def _page_paths_fetched(fp, norm: str, before: float) -> set[str]:
    """Index / JSON page paths of project `norm` the mirror fetched before time `before`."""
    paths = set()
    for req in fp.requests():
        if req["method"] != "GET" or req["time"] >= before:
            continue
        parts = req["path"].strip("/").split("/")
        if len(parts) >= 2 and parts[0] in ("pypi", "simple") and normalize(parts[1]) == norm:
            paths.add(req["path"])
    return paths


def test_open_purge_clears_pinned_page_and_syncs_in_same_run(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="open")
    site.configure(fp.base_url)
    _initial_sync(site, fp)
    norm = "dup-name"
    display = _display(fp, norm)
    upload = fp.upload(display, "9.0")
    fp.pin_stale(norm, serial=upload["serial"] - 1)  # the CDN keeps the page from before the upload
    fp.clear_log()

    result = run_wrapper(site.config)

    log_text = site.log.read_text()
    assert result.returncode == 0, log_text
    purges = fp.purges()
    expected = [f"/pypi/{display}/json", f"/pypi/{norm}/json", f"/simple/{norm}/"]
    assert [p["path"] for p in purges] == expected
    assert all(p["status"] == 200 and not p["key_sent"] for p in purges)
    # Every page URL the sync fetched for the project before the PURGE was purged.
    assert _page_paths_fetched(fp, norm, purges[0]["time"]) <= set(expected)
    assert "Stale serial for package dup-name" in log_text
    for info in upload["files"]:
        assert _has_file(site, info["filename"])
    assert site.status() == fp.last_serial
    assert json.loads((site.mirror / "stale.json").read_text())["projects"] == {}
    assert site.wrapper_state()["projects"] == {}
    assert_tree_consistent(site.mirror)

    m = read_metrics(site.metrics)
    assert metric(m, "exit_code") == 0
    assert metric(m, "stale_projects") == 0
    assert metric(m, "last_run_purges_sent") == 3
    assert metric(m, "last_run_purges_unauthorized") == 0
    assert metric(m, "purges_sent_total") == 3
    assert metric(m, "serial") == fp.last_serial
    assert metric(m, "upstream_serial") == fp.last_serial
    assert metric(m, "projects_synced") == 1
    assert metric(m, "last_success_timestamp_seconds") == metric(m, "last_run_end_timestamp_seconds")
    assert metric(m, "last_run_start_timestamp_seconds") <= metric(m, "last_run_end_timestamp_seconds")
    assert metric(m, "run_duration_seconds") >= 0
    # Streamed, timestamped log lines (the core's and the wrapper's, in one file).
    lines = [line for line in log_text.splitlines() if line]
    assert lines and all(LOG_LINE.match(line) for line in lines)


def test_auth_mode_without_key_then_with_key(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="auth", purge_key=KEY)
    site.configure(fp.base_url, retry_interval="600")
    _initial_sync(site, fp)
    serial_before = site.status()
    stale_norm, fresh_norm = "foo-bar", "yanked-pkg"
    stale_upload = fp.upload(_display(fp, stale_norm), "7.0")
    fp.pin_stale(stale_norm, serial=stale_upload["serial"] - 1)
    fresh_upload = fp.upload(_display(fp, fresh_norm), "7.0")
    fp.clear_log()

    result = run_wrapper(site.config)

    log_text = site.log.read_text()
    assert result.returncode == 3, log_text
    purges = fp.purges()
    assert len(purges) == 1 and purges[0]["status"] == 401  # one refusal ends PURGEs: no storm
    assert log_text.count(NOT_PERMITTED_LINE) == 1
    assert "PURGE http" not in log_text  # no per-URL error lines
    assert serial_before <= site.status() < stale_upload["serial"]  # mirror serial not advanced past it
    for info in fresh_upload["files"]:  # the rest of the mirror synced
        assert _has_file(site, info["filename"])
    for info in stale_upload["files"]:
        assert not _has_file(site, info["filename"])
    assert list(json.loads((site.mirror / "stale.json").read_text())["projects"]) == [stale_norm]
    assert_tree_consistent(site.mirror)
    m = read_metrics(site.metrics)
    assert metric(m, "exit_code") == 3
    assert metric(m, "stale_projects") == 1
    assert metric(m, "last_run_purges_unauthorized") == 1
    assert metric(m, "last_run_purges_sent") == 0
    assert metric(m, "stale_project_attempts", project=stale_norm) == 1
    assert metric(m, "serial") == site.status()
    assert metric(m, "upstream_serial") == fp.last_serial
    assert metric(m, "last_success_timestamp_seconds") < metric(m, "last_run_start_timestamp_seconds")

    # The operator installs the right key; the next tick after the retry interval fixes it.
    site.key.write_text(KEY + "\n")
    site.configure(fp.base_url, retry_interval="600", purge_key_file=str(site.key))
    fp.clear_log()
    result = run_wrapper(site.config, clock_offset=601)

    log_text = site.log.read_text()
    assert result.returncode == 0, log_text
    purges = fp.purges()
    display = _display(fp, stale_norm)
    assert [p["path"] for p in purges] == [f"/pypi/{display}/json", f"/pypi/{stale_norm}/json", f"/simple/{stale_norm}/"]
    assert all(p["status"] == 200 and p["key_sent"] for p in purges)
    for info in stale_upload["files"]:
        assert _has_file(site, info["filename"])
    assert site.status() == fp.last_serial
    m = read_metrics(site.metrics)
    assert metric(m, "exit_code") == 0 and metric(m, "stale_projects") == 0
    assert metric(m, "purges_sent_total") == 3 and metric(m, "purges_unauthorized_total") == 1
    # The key is never written anywhere but its own file.
    for path in [site.log, site.metrics, site.state, site.mirror / "stale.json", site.mirror / "state.json"]:
        assert KEY not in path.read_text()
    assert KEY not in result.stdout + result.stderr


def test_wrong_key_is_one_unauthorized_line(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="auth", purge_key=KEY)
    site.key.write_text("not-the-key")
    site.configure(fp.base_url, purge_key_file=str(site.key))
    _initial_sync(site, fp)
    success = metric(read_metrics(site.metrics), "last_success_timestamp_seconds")
    for norm in ("foo-bar", "pre-release"):  # two stale projects, six URLs: still one PURGE
        upload = fp.upload(_display(fp, norm), "8.0")
        fp.pin_stale(norm, serial=upload["serial"] - 1)
    fp.clear_log()
    site.state.unlink()  # state lost: the last success is carried over from the metrics file
    result = run_wrapper(site.config)
    assert result.returncode == 3
    assert [(p["status"], p["key_sent"]) for p in fp.purges()] == [(401, True)]
    log_text = site.log.read_text()
    assert log_text.count(NOT_PERMITTED_LINE) == 1
    assert "not-the-key" not in log_text
    m = read_metrics(site.metrics)
    assert metric(m, "stale_projects") == 2
    assert metric(m, "last_success_timestamp_seconds") == success > 0


def test_never_recovering_project_is_retried_at_growing_intervals(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="auth", purge_key=KEY)
    site.configure(fp.base_url, retry_interval="100", retry_interval_max="350")
    _initial_sync(site, fp)
    first_success = site.wrapper_state()["last_success"]
    norm = "pre-release"
    upload = fp.upload(_display(fp, norm), "5.0")
    fp.pin_stale(norm, serial=upload["serial"] - 1)

    # (clock offset, whether the wrapper should PURGE + re-sync the project in that run)
    ticks = [(0, True), (50, False), (101, True), (250, False), (302, True), (500, False), (653, True)]
    schedule = []
    for offset, due in ticks:
        other = fp.upload(_display(fp, "foo-bar"), f"3.{offset}")  # the rest of the mirror moves on
        fp.clear_log()
        before_lines = len(site.log.read_text().splitlines())
        result = run_wrapper(site.config, clock_offset=offset)
        new_log = "\n".join(site.log.read_text().splitlines()[before_lines:])
        assert result.returncode == 3, new_log
        assert bool(fp.purges()) is due, (offset, new_log)
        assert ("Re-syncing 1 stale project(s)" in new_log) is due, (offset, new_log)
        assert f"Project {norm} still stale after" in new_log
        for info in other["files"]:
            assert _has_file(site, info["filename"])
        entry = site.wrapper_state()["projects"][norm]
        m = read_metrics(site.metrics)
        assert metric(m, "stale_project_attempts", project=norm) == entry["attempts"]
        assert metric(m, "stale_project_next_retry_timestamp_seconds", project=norm) == entry["next_attempt"]
        assert metric(m, "stale_projects_deferred") == (0 if due else 1)
        assert metric(m, "stale_projects") == 1
        assert metric(m, "exit_code") == 3
        # A failing run keeps the last success of the earlier good run.
        assert metric(m, "last_success_timestamp_seconds") == first_success
        if due:
            schedule.append(entry)

    assert [e["attempts"] for e in schedule] == [1, 2, 3, 4]
    intervals = [round(e["next_attempt"] - e["last_attempt"]) for e in schedule]
    assert intervals == [100, 200, 350, 350]  # doubles, capped at retry-interval-max
    assert len({e["first_seen"] for e in schedule}) == 1

    # Once the CDN lets go (e.g. its TTL ran out), the next due run clears the schedule.
    fp.unpin(norm)
    result = run_wrapper(site.config, clock_offset=653 + 351)
    assert result.returncode == 0, site.log.read_text()
    assert site.wrapper_state()["projects"] == {}
    assert site.status() == fp.last_serial


def test_lock_busy_exits_4_and_touches_nothing(site, fakepypi_factory):
    fp = fakepypi_factory()
    site.configure(fp.base_url)
    site.mirror.mkdir()
    with MirrorLock(site.mirror / ".lock"):
        result = run_wrapper(site.config)
    assert result.returncode == 4
    lines = site.log.read_text().splitlines()
    assert len(lines) == 1 and f"PID {os.getpid()}" in lines[0] and LOG_LINE.match(lines[0])
    assert not site.metrics.exists() and not site.state.exists()
    assert sorted(p.name for p in site.mirror.iterdir()) == [".lock"]
    assert fp.requests() == []


def test_time_limit_mid_download_leaves_tree_consistent(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="open")
    site.configure(fp.base_url)
    _initial_sync(site, fp)
    serial_before = site.status()
    uploads = {norm: fp.upload(_display(fp, norm), "6.0") for norm in ("foo-bar", "needs-py", "yanked-pkg")}
    slow = uploads["needs-py"]["files"][0]
    fault = fp.add_fault("latency", path=slow["path"], latency=6.0)
    site.configure(fp.base_url, time_limit="3")

    result = run_wrapper(site.config)

    log_text = site.log.read_text()
    assert result.returncode == 6, log_text
    assert [f["hits"] for f in fp.list_faults() if f["id"] == fault] == [1]  # that download was in flight
    assert "Time limit reached; stopped cleanly" in log_text
    assert assert_tree_consistent(site.mirror).files_checked > 0
    assert not _has_file(site, slow["filename"])
    assert slow["filename"] not in (site.mirror / "web" / "simple" / "needs-py" / "index.html").read_text()
    for info in uploads["foo-bar"]["files"] + uploads["yanked-pkg"]["files"]:
        assert _has_file(site, info["filename"])  # projects finished before the limit are published
    assert serial_before <= site.status() < uploads["needs-py"]["serial"]
    m = read_metrics(site.metrics)
    assert metric(m, "exit_code") == 6
    assert metric(m, "serial") == site.status()
    assert metric(m, "last_success_timestamp_seconds") < metric(m, "last_run_start_timestamp_seconds")

    # The next run resumes and completes.
    fp.clear_faults()
    site.configure(fp.base_url)
    result = run_wrapper(site.config)
    assert result.returncode == 0, site.log.read_text()
    assert site.status() == fp.last_serial
    assert _has_file(site, slow["filename"])
    assert assert_tree_consistent(site.mirror).files_checked > 0


def test_sigterm_stops_cleanly_with_143_and_logs_stream(site, fakepypi_factory):
    fp = fakepypi_factory()
    site.configure(fp.base_url)
    fp.add_fault("latency", prefix="/packages/", latency=3.0, count=2)
    env = dict(os.environ, NO_PROXY="127.0.0.1")
    proc = subprocess.Popen(wrapper_command() + ["-c", str(site.config)], env=env)
    try:
        # Lines reach the log file while the run is still going (not buffered until the end).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if site.log.exists() and "Syncing package:" in site.log.read_text():
                break
            time.sleep(0.05)
        assert proc.poll() is None and "Syncing package:" in site.log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Terminated by SIGTERM; stopped cleanly" in site.log.read_text()
    assert_tree_consistent(site.mirror)
    assert metric(read_metrics(site.metrics), "exit_code") == 143


def test_unreachable_upstream_passes_exit_5_through(site, fakepypi_factory):
    fp = fakepypi_factory()
    url = fp.base_url
    fp.stop()  # nothing listens on that port any more
    site.configure(url)
    result = run_wrapper(site.config)
    assert result.returncode == 5, site.log.read_text()
    m = read_metrics(site.metrics)
    assert metric(m, "exit_code") == 5 and metric(m, "last_success_timestamp_seconds") == 0


def test_in_run_retries_with_backoff_recover_a_project(site, fakepypi_factory):
    """PURGE refused, but the CDN copy expires during the run: a later in-run re-sync gets it."""
    fp = fakepypi_factory(purge_mode="auth", purge_key=KEY)
    site.configure(fp.base_url, {"stale-retries": "0"}, retry_attempts="3", retry_backoff="0.1")
    _initial_sync(site, fp)
    upload = fp.upload("Foo.Bar", "4.0")
    fp.serve_stale_for("foo-bar", 2, serial=upload["serial"] - 1)  # main sync + first re-sync see it stale
    result = run_wrapper(site.config)
    log_text = site.log.read_text()
    assert result.returncode == 0, log_text
    assert "attempt 1/3" in log_text and "attempt 2/3" in log_text and "attempt 3/3" not in log_text
    assert log_text.count(NOT_PERMITTED_LINE) == 1
    assert site.status() == fp.last_serial
    assert site.wrapper_state()["projects"] == {}


def test_retry_phase_is_bounded_by_retry_max_time(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="auth", purge_key=KEY)
    site.configure(fp.base_url, {"stale-retries": "0"}, retry_attempts="10", retry_backoff="30", retry_max_time="5")
    _initial_sync(site, fp)
    upload = fp.upload("Foo.Bar", "4.0")
    fp.pin_stale("foo-bar", serial=upload["serial"] - 1)
    result = run_wrapper(site.config)
    log_text = site.log.read_text()
    assert result.returncode == 3, log_text
    assert "attempt 1/10" in log_text and "attempt 2/10" not in log_text
    assert "Retry phase would exceed retry-max-time" in log_text


def test_purges_go_to_purge_url(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="auth", purge_key=KEY)
    cdn = fakepypi_factory(purge_mode="open")  # a separate PURGE endpoint
    site.configure(fp.base_url, purge_url=cdn.base_url, retry_attempts="1")
    _initial_sync(site, fp)
    upload = fp.upload("Foo.Bar", "4.0")
    fp.pin_stale("foo-bar", serial=upload["serial"] - 1)
    result = run_wrapper(site.config)
    assert result.returncode == 3  # that endpoint does not hold the master's stale copy
    assert fp.purges() == []
    assert [p["path"] for p in cdn.purges()] == ["/pypi/Foo.Bar/json", "/pypi/foo-bar/json", "/simple/foo-bar/"]


def test_failed_purges_are_counted_and_do_not_stop_the_run(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="open")
    dead = fakepypi_factory()
    dead_url = dead.base_url
    dead.stop()  # connection refused
    site.configure(fp.base_url, purge_url=dead_url, purge_timeout="2", retry_attempts="1")
    _initial_sync(site, fp)
    upload = fp.upload("Foo.Bar", "4.0")
    fp.pin_stale("foo-bar", serial=upload["serial"] - 1)
    result = run_wrapper(site.config)
    log_text = site.log.read_text()
    assert result.returncode == 3, log_text
    purge_lines = [line for line in log_text.splitlines() if "WARNING: PURGE failed: PURGE " in line]
    assert len(purge_lines) == 3, log_text
    assert all(dead_url in line and "connect" in line.lower() for line in purge_lines), purge_lines
    assert "Re-syncing 1 stale project(s), attempt 1/1" in log_text
    m = read_metrics(site.metrics)
    assert metric(m, "last_run_purges_failed") == 3 and metric(m, "last_run_purges_sent") == 0
    assert metric(m, "purges_failed_total") == 3


def test_purge_timeout_bounds_each_purge(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="auth", purge_key=KEY)
    slow_cdn = fakepypi_factory(purge_mode="open")
    slow_cdn.add_fault("latency", prefix="/", latency=3.0)
    site.configure(fp.base_url, purge_url=slow_cdn.base_url, purge_timeout="0.3", retry_attempts="0")
    _initial_sync(site, fp)
    upload = fp.upload("Foo.Bar", "4.0")
    fp.pin_stale("foo-bar", serial=upload["serial"] - 1)
    result = run_wrapper(site.config)
    log_text = site.log.read_text()
    assert result.returncode == 3, log_text
    purge_lines = [line for line in log_text.splitlines() if "WARNING: PURGE failed: PURGE " in line]
    assert len(purge_lines) == 3, log_text
    assert all("deadline of 0.3 s exceeded" in line for line in purge_lines), purge_lines
    assert metric(read_metrics(site.metrics), "last_run_purges_failed") == 3


def test_purge_off_sends_nothing(site, fakepypi_factory):
    fp = fakepypi_factory(purge_mode="open")
    site.configure(fp.base_url, purge="off", retry_attempts="0")
    _initial_sync(site, fp)
    upload = fp.upload("Foo.Bar", "4.0")
    fp.pin_stale("foo-bar", serial=upload["serial"] - 1)
    fp.clear_log()
    result = run_wrapper(site.config)
    assert result.returncode == 3
    assert fp.purges() == []
    assert "PURGE is off" in site.log.read_text()


@pytest.mark.parametrize(
    ("wrapper_keys", "problem"),
    [
        ({"purge": "sometimes"}, "[wrapper] purge:"),
        ({"retry-attempts": "11"}, "[wrapper] retry-attempts:"),
        ({"purge-key-file": "/nonexistent/key"}, "[wrapper] purge-key-file:"),
        ({"surprise": "1"}, "[wrapper] surprise: unknown key"),
    ],
)
def test_config_errors_exit_2_with_one_line(site, fakepypi_factory, wrapper_keys, problem):
    fp = fakepypi_factory()
    write_config(site.config, site.mirror, fp.base_url, None, wrapper_keys)
    result = run_wrapper(site.config)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pypi-mirror-run: config error: ") and problem in lines[0]
    assert not site.mirror.exists() and fp.requests() == []


def test_missing_config_writes_example(tmp_path):
    config = tmp_path / "etc" / "pypi-mirror.conf"
    result = run_wrapper(config)
    assert result.returncode == 2
    assert config.exists() and "[wrapper]" in config.read_text()
    assert len(result.stderr.strip().splitlines()) == 1


def test_logs_to_stdout_without_log_file(site, fakepypi_factory):
    fp = fakepypi_factory()
    write_config(site.config, site.mirror, fp.base_url)
    result = run_wrapper(site.config)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert any("Sync finished:" in line for line in lines)
    assert all(LOG_LINE.match(line) for line in lines)
