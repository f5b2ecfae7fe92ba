"""A sync started exactly as cron starts it, then the mirror as pip and nginx see it."""

from __future__ import annotations

import json
import re

import pytest

from scenario import (HUB, MIRRORS, PUBLISHED, SIMPLE_JSON, http_get, metrics, mirror_serial, podman_host,
                      status_json, upstream, wrapper_log_path)

testinfra_hosts = [podman_host(name) for name in MIRRORS]

PIP_PROJECTS = ("Foo.Bar", "foo_bar-baz")


def test_cron_command_exits_0(host, cron_run):
    job, result = cron_run
    assert result.rc == 0, f"{job.command!r} exited {result.rc}; log:\n" + host.run(
        f"tail -n 30 {wrapper_log_path(host)} /var/log/pypi-mirror/cron.log").stdout


def test_sync_logged_its_summary(host, cron_run):
    log = host.file(wrapper_log_path(host)).content_string
    summaries = [line for line in log.splitlines() if "Sync finished:" in line]
    assert summaries, "no 'Sync finished:' line in the wrapper log"
    assert summaries[-1].rstrip().endswith("0 failed")


def test_mirror_serial_equals_upstream_serial(host, cron_run):
    assert mirror_serial(host) == upstream("state")["last_serial"]


def test_pip_installs_two_projects_from_the_mirror(host, cron_run):
    venv = host.check_output("mktemp -d /tmp/pip-check.XXXXXX")
    try:
        res = host.run(f"python3 -m venv {venv}/venv && PIP_CONFIG_FILE=/dev/null "
                       f"{venv}/venv/bin/pip install --disable-pip-version-check --no-cache-dir "
                       f"--index-url http://127.0.0.1/simple/ {' '.join(PIP_PROJECTS)}")
        assert res.rc == 0, res.stdout + res.stderr
        installed = {p["name"].lower().replace("_", "-").replace(".", "-")
                     for p in json.loads(host.check_output(f"{venv}/venv/bin/pip list --format json"))}
        for project in PIP_PROJECTS:
            assert project.lower().replace("_", "-").replace(".", "-") in installed
    finally:
        host.run(f"rm -rf {venv}")


def test_pep691_json_page(host, cron_run):
    res = host.run(f"curl -sS -D - -o /tmp/page.json -H 'Accept: {SIMPLE_JSON}' http://127.0.0.1/simple/foo-bar/")
    assert res.rc == 0, res.stderr
    content_type = [line.split(":", 1)[1].strip() for line in res.stdout.splitlines()
                    if line.lower().startswith("content-type:")]
    assert content_type and content_type[0].split(";")[0] == SIMPLE_JSON, res.stdout
    page = json.loads(host.file("/tmp/page.json").content_string)
    assert page["name"] == "foo-bar"
    assert page["files"], "files listed"


@pytest.mark.parametrize("path", ["/status", "/todo", "/.lock", "/state.json", "/stale.json"])
def test_state_files_not_served(host, cron_run, path):
    # through the port published to this machine, the way a client reaches the mirror
    name = host.backend.get_hostname()
    status, _, _ = http_get(PUBLISHED[name] + path)
    assert status == 404


def test_simple_index_served_through_published_port(host, cron_run):
    name = host.backend.get_hostname()
    status, headers, body = http_get(PUBLISHED[name] + "/simple/", accept=SIMPLE_JSON)
    assert status == 200
    assert headers.get("Content-Type", "").split(";")[0] == SIMPLE_JSON
    names = {re.sub(r"[-_.]+", "-", p["name"]).lower() for p in json.loads(body)["projects"]}
    assert "foo-bar" in names


def test_metrics_show_the_serial(host, cron_run):
    m = metrics(host)
    assert m["pypi_mirror_serial"] == mirror_serial(host)
    assert m["pypi_mirror_exit_code"] == 0
    assert m["pypi_mirror_stale_projects"] == 0
    replica = host.backend.get_hostname() != HUB
    assert m["pypi_mirror_replica"] == int(replica)
    if replica:
        assert m["pypi_mirror_hub_serial"] == mirror_serial(host) and m["pypi_mirror_hub_lag_serials"] == 0


def test_status_shows_the_fleet(host, cron_run):
    doc = status_json(host, live=True)
    assert doc["last_exit_code"] == 0
    assert doc["journal"]["serial"] == mirror_serial(host), "every mirror publishes its own journal"
    if host.backend.get_hostname() == HUB:
        assert doc["kind"] == "pypi" and doc["upstream_lag_serials"] == 0
    else:
        assert doc["kind"] == "mirror" and doc["hub"] == f"http://{HUB}"
        assert (doc["hub_serial"], doc["hub_lag_serials"], doc["hub_error"]) == (mirror_serial(host), 0, None)
