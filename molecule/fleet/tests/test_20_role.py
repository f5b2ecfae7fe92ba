"""What the role leaves on every mirror host: user, virtualenv, config, nginx, cron, logrotate."""

from __future__ import annotations

import tomllib
from pathlib import Path

from scenario import (CONFIG, CRON_FILE, DATA_DIR, HUB, HUB_URL_IN_FLEET, MIRRORS, UPSTREAM_URL_IN_FLEET, USER,
                      VENV, cron_job, podman_host, read_config)

testinfra_hosts = [podman_host(name) for name in MIRRORS]

REPO = Path(__file__).resolve().parents[3]


def test_system_user_and_group(host):
    user = host.user(USER)
    assert user.exists
    assert user.uid < 1000, "a system account"
    assert user.group == USER
    assert user.shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")


def test_virtualenv_and_version(host):
    assert host.file(f"{VENV}/pyvenv.cfg").is_file
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for tool in ("pypi-mirror", "pypi-mirror-run"):
        assert host.file(f"{VENV}/bin/{tool}").is_file
    out = host.run(f"{VENV}/bin/pypi-mirror --version")
    assert out.rc == 0, out.stderr
    assert version in out.stdout + out.stderr


def test_config_file_mode_and_content(host):
    conf = host.file(CONFIG)
    assert conf.is_file
    assert (conf.user, conf.group, conf.mode) == ("root", USER, 0o640)
    cfg = read_config(host)
    assert cfg.get("mirror", "directory") == DATA_DIR
    if host.backend.get_hostname() == HUB:  # the hub syncs from the upstream, the replicas from the hub
        assert cfg.get("mirror", "master").rstrip("/") == UPSTREAM_URL_IN_FLEET
        assert cfg.get("mirror", "upstream-kind") == "pypi"
    else:
        assert cfg.get("mirror", "master").rstrip("/") == HUB_URL_IN_FLEET
        assert cfg.get("mirror", "upstream-kind") == "mirror"
        assert cfg.get("mirror", "fallback-upstream") == "", "no fallback: a replica never asks the upstream"
    assert cfg.get("wrapper", "metrics-file") == "/var/lib/node_exporter/textfile/pypi_mirror.prom"
    assert cfg.get("wrapper", "purge") == "auto"
    # the user reads it (cron runs as that user), nobody else
    assert host.run(f"setpriv --reuid={USER} --regid={USER} --init-groups cat {CONFIG}").rc == 0
    assert host.run(f"setpriv --reuid=nobody --regid=nogroup --clear-groups cat {CONFIG}").rc != 0


def test_data_directory_owned_by_the_mirror_user(host):
    d = host.file(DATA_DIR)
    assert d.is_directory
    assert d.user == USER


def test_nginx_running_and_config_clean(host):
    nginx = host.service("nginx")
    assert nginx.is_running
    assert nginx.is_enabled
    res = host.run("nginx -t")
    assert res.rc == 0, res.stderr
    assert "test is successful" in res.stderr
    assert "[warn]" not in res.stderr and "[emerg]" not in res.stderr
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_cron_entry_exact(host):
    cron = host.file(CRON_FILE)
    assert (cron.user, cron.group) == ("root", "root")
    assert cron.mode & 0o022 == 0, "cron ignores group/other-writable files"
    job = cron_job(host)  # asserts the exact line form
    assert job.env == {"LC_ALL": "C.UTF-8", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    assert job.user == USER
    time_limit = float(read_config(host).get("wrapper", "time-limit", fallback="3300"))
    assert job.limit == int(time_limit) + 120
    # o, o+i, o+2i, ... < 60 with 0 <= o < i
    offset = job.minutes[0]
    interval = job.minutes[1] - offset if len(job.minutes) > 1 else 60
    assert offset < interval
    assert list(job.minutes) == list(range(offset, 60, interval))
    assert host.service("cron").is_enabled


def test_logrotate_config_clean(host):
    assert host.file("/etc/logrotate.d/pypi-mirror").is_file
    res = host.run("logrotate -d /etc/logrotate.d/pypi-mirror")
    assert res.rc == 0, res.stderr
    out = res.stdout + res.stderr
    problems = [line for line in out.splitlines() if line.lower().startswith(("error", "warning: "))
                and "debug mode does nothing" not in line]
    assert not problems, out
    assert "/var/log/pypi-mirror/" in out


def test_minute_offsets_differ_between_hosts(fleet):
    jobs = {name: cron_job(fleet[name]) for name in MIRRORS}
    intervals = {job.minutes[1] - job.minutes[0] for job in jobs.values()}
    assert len(intervals) == 1, "one interval for the fleet"
    offsets = {name: job.minutes[0] for name, job in jobs.items()}
    assert len(set(offsets.values())) == len(MIRRORS), f"offsets collide: {offsets}"
    assert offsets[HUB] == min(offsets.values()), "the replicas sync after the hub in each interval"
