"""Unit tests of the wrapper's pure parts: retry schedule, state file, stale.json, metrics text."""

from __future__ import annotations

import json
import math
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mirror_tool.wrapper.clock import CLOCK_OFFSET_ENV, wall_clock
from mirror_tool.wrapper.metrics import Metric, counter, gauge, previous_value, render, write_metrics
from mirror_tool.wrapper.purge import project_purge_paths, read_key
from mirror_tool.wrapper.retry_state import RetryPolicy, WrapperState, load_state, save_state
from mirror_tool.wrapper.stale_report import read_stale


def test_retry_delay_doubles_and_is_capped():
    policy = RetryPolicy(interval=300, interval_max=1000)
    assert [policy.delay_after(n) for n in range(0, 5)] == [0, 300, 600, 1000, 1000]
    assert RetryPolicy(1, 86400).delay_after(10_000) == 86400


def test_state_schedule_and_round_trip(tmp_path):
    policy = RetryPolicy(interval=100, interval_max=10_000)
    state = WrapperState()
    assert state.is_due("a", 0)
    entry = state.record_failed_attempt("a", first_seen=5.0, now=10.0, policy=policy)
    assert (entry.attempts, entry.first_seen, entry.last_attempt, entry.next_attempt) == (1, 5.0, 10.0, 110.0)
    assert not state.is_due("a", 109.9) and state.is_due("a", 110.0)
    state.record_failed_attempt("a", first_seen=99.0, now=120.0, policy=policy)
    assert state.projects["a"].next_attempt == 320.0 and state.projects["a"].first_seen == 5.0
    state.add_counters(purges_sent=3, purges_unauthorized=1)
    state.last_success = 42.5
    path = tmp_path / "sub" / "wrapper-state.json"
    save_state(path, state)
    again = load_state(path)
    assert again.projects == state.projects
    assert again.counters == {"purges_sent": 3, "purges_failed": 0, "purges_unauthorized": 1}
    assert again.last_success == 42.5
    again.forget(["a"])
    assert again.projects == {}
    assert [p.name for p in path.parent.iterdir()] == ["wrapper-state.json"]  # no temp file left


@pytest.mark.parametrize("content", ["{not json", "[]", '{"projects": {"a": 1}}', '{"projects": {"a": {}}}'])
def test_corrupt_state_starts_fresh(tmp_path, content, caplog):
    path = tmp_path / "state.json"
    path.write_text(content)
    state = load_state(path)
    assert state.projects == {} and state.last_success is None
    assert "corrupt" in caplog.text


def test_missing_state_is_empty(tmp_path):
    assert load_state(tmp_path / "nope.json").projects == {}


def test_read_stale_file(tmp_path):
    path = tmp_path / "stale.json"
    assert read_stale(path) == {}
    path.write_text(json.dumps({"generated": 1.0, "projects": {"display-name": {
        "name": "Display.Name", "expected_serial": 120, "served_serial": 118,
        "urls": ["/pypi/Display.Name/json", 7], "first_seen": 100.0}}}))
    stale = read_stale(path)
    assert list(stale) == ["display-name"]
    project = stale["display-name"]
    assert (project.name, project.expected_serial, project.served_serial, project.first_seen) == ("Display.Name", 120, 118, 100.0)
    assert project.urls == ["/pypi/Display.Name/json"]
    path.write_text("garbage")
    assert read_stale(path) == {}


def test_purge_paths_cover_name_normalized_and_fetched():
    paths = project_purge_paths("Display.Name", ["/pypi/Display.Name/json", "/simple/display-name/", "/extra/x", "//evil/x", "http://x/y"])
    assert paths == ["/pypi/Display.Name/json", "/pypi/display-name/json", "/simple/display-name/", "/extra/x"]
    assert project_purge_paths("../etc", []) == []


def test_read_key(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("  s3cret\n")
    assert read_key(key_file) == "s3cret"
    key_file.write_text("\n")
    with pytest.raises(ValueError):
        read_key(key_file)


def test_clock_offset(monkeypatch):
    monkeypatch.setenv(CLOCK_OFFSET_ENV, "1000")
    import time

    assert wall_clock() - time.time() == pytest.approx(1000, abs=5)
    monkeypatch.setenv(CLOCK_OFFSET_ENV, "soon")
    with pytest.raises(ValueError):
        wall_clock()


def test_metrics_text_parses_with_prometheus_parser(tmp_path):
    stale = Metric("stale_project_attempts", "gauge", "attempts").add(3, project='we"ird\\name')
    metrics = [
        gauge("serial", "Mirror serial.", 123),
        gauge("run_duration_seconds", "Duration.", 1.25),
        gauge("last_success_timestamp_seconds", "Last success.", 1764400000.123),
        counter("purges_sent_total", "PURGEs.", 7),
        stale,
    ]
    path = tmp_path / "textfile" / "pypi_mirror.prom"
    write_metrics(path, metrics)
    text = path.read_text()
    assert text == render(metrics)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["pypi_mirror_serial"].samples[0].value == 123
    assert families["pypi_mirror_run_duration_seconds"].samples[0].value == 1.25
    assert families["pypi_mirror_last_success_timestamp_seconds"].samples[0].value == 1764400000.123
    assert families["pypi_mirror_purges_sent"].type == "counter"
    assert families["pypi_mirror_purges_sent"].samples[0].value == 7
    sample = families["pypi_mirror_stale_project_attempts"].samples[0]
    assert sample.labels == {"project": 'we"ird\\name'} and sample.value == 3
    assert "# HELP pypi_mirror_serial Mirror serial." in text and "# TYPE pypi_mirror_serial gauge" in text
    assert [p.name for p in path.parent.iterdir()] == ["pypi_mirror.prom"]


def test_special_and_exact_values_survive_the_textfile():
    metrics = [gauge("a", "x", math.inf), gauge("b", "x", float("nan")), gauge("c", "x", 0.1), gauge("d", "x", True)]
    values = {f.name: f.samples[0].value for f in text_string_to_metric_families(render(metrics))}
    assert values["pypi_mirror_a"] == math.inf and math.isnan(values["pypi_mirror_b"])
    assert values["pypi_mirror_c"] == 0.1 and values["pypi_mirror_d"] == 1
    with pytest.raises(ValueError):
        counter("purges", "no _total", 1)


def test_previous_value_reads_an_earlier_textfile(tmp_path):
    path = tmp_path / "m.prom"
    assert previous_value(path, "last_success_timestamp_seconds") is None
    write_metrics(path, [gauge("last_success_timestamp_seconds", "x", 1764400000.5), gauge("serial", "y", 0)])
    assert previous_value(path, "last_success_timestamp_seconds") == 1764400000.5
    assert previous_value(path, "serial") is None  # 0 means "never"
    path.write_text("pypi_mirror_last_success_timestamp_seconds{broken 1\n")
    assert previous_value(path, "last_success_timestamp_seconds") is None  # damaged: nothing carried over


def test_metrics_file_is_world_readable_whatever_the_umask(tmp_path):
    """node_exporter runs as another user: the textfile must be readable by it."""
    path = tmp_path / "m.prom"
    old = os.umask(0o077)
    try:
        write_metrics(path, [gauge("serial", "y", 1)])
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
