"""The role's cron file and logrotate rules, rendered by Ansible from the role's defaults.

The cron job line must be exactly the form in docs/design.md (the wrapper's tests run that line),
with per-host minute offsets that spread the regions; the logrotate rules must pass the real
`logrotate -d` and really rotate (with nginx told to reopen its logs).
"""

from __future__ import annotations

import grp
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.role_render import REPO_ROOT, prepare_renders, render_template, role_vars

LOCAL_MIRRORS = ["mirror01.dfw", "mirror01.gra1", "mirror01.iad"]
PRODUCTION_MIRRORS = [f"mirror01.{region}.example.net"
                      for region in ["bhs1", "ca-ymq-1", "dfw", "gra1", "iad", "nyj01", "ord", "sjc1"]]
INTERVAL_VARIANTS = [(1, 60), (10, 600), (30, 1500.5), (60, 3300)]
VERIFY_CASE = {"inventory_hostname": "mirror01.iad", "pypi_mirror_verify_enabled": True,
               "pypi_mirror_verify_weekday": 3, "pypi_mirror_verify_hour": 4}

# Rendered together in one ansible-playbook run (tests/support/role_render.py).
prepare_renders(
    {},
    *[{"inventory_hostname": host} for host in LOCAL_MIRRORS + PRODUCTION_MIRRORS[:3]],
    *[{"inventory_hostname": "mirror01.gra1", "pypi_mirror_cron_interval": interval,
       "pypi_mirror_wrapper_time_limit": limit} for interval, limit in INTERVAL_VARIANTS],
    VERIFY_CASE,
)


def design_cron_pattern() -> re.Pattern[str]:
    """The cron line of docs/design.md with MINUTES and LIMIT as capture groups."""
    design = (REPO_ROOT / "docs" / "design.md").read_text()
    block = re.search(r"```\n(MINUTES \* \* \* \* .*?)\n```", design)
    assert block, "docs/design.md lost its cron line"
    pattern = re.escape(block.group(1))
    pattern = pattern.replace("MINUTES", r"(?P<minutes>\d+(?:,\d+)*)", 1).replace("LIMIT", r"(?P<limit>\d+)", 1)
    return re.compile(f"^{pattern}$")


def job_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#") and "=" not in line.split()[0]]


def test_cron_file_has_the_designed_line_and_environment() -> None:
    text = render_template("cron.j2", inventory_hostname="mirror01.dfw")
    lines = text.splitlines()
    assert "LC_ALL=C.UTF-8" in lines and "PATH=/usr/sbin:/usr/bin:/sbin:/bin" in lines
    assert lines.index("LC_ALL=C.UTF-8") < lines.index(job_lines(text)[0])
    assert text.endswith("\n")  # cron ignores a last line without newline
    [job] = job_lines(text)
    match = design_cron_pattern().match(job)
    assert match, job
    values = role_vars(inventory_hostname="mirror01.dfw")
    assert int(match.group("limit")) == int(values["pypi_mirror_wrapper_time_limit"]) + 120
    interval, offset = int(values["pypi_mirror_cron_interval"]), int(values["pypi_mirror_cron_offset"])
    assert [int(m) for m in match.group("minutes").split(",")] == list(range(offset, 60, interval))
    assert "%" not in job


@pytest.mark.parametrize("hosts", [LOCAL_MIRRORS, PRODUCTION_MIRRORS[:3]], ids=["local", "production"])
def test_offsets_differ_between_regions_and_are_stable(hosts: list[str]) -> None:
    offsets = [role_vars(inventory_hostname=host)["pypi_mirror_cron_offset"] for host in hosts]
    assert len(set(offsets)) == len(hosts), dict(zip(hosts, offsets))
    assert offsets == [role_vars(inventory_hostname=host)["pypi_mirror_cron_offset"] for host in hosts]
    assert all(0 <= offset < 15 for offset in offsets)


@pytest.mark.parametrize(("interval", "time_limit"), INTERVAL_VARIANTS)
def test_interval_and_limit_variants(interval: int, time_limit: float) -> None:
    host = "mirror01.gra1"
    text = render_template("cron.j2", inventory_hostname=host, pypi_mirror_cron_interval=interval,
                                pypi_mirror_wrapper_time_limit=time_limit)
    [job] = job_lines(text)
    match = design_cron_pattern().match(job)
    assert match, job
    minutes = [int(m) for m in match.group("minutes").split(",")]
    assert len(minutes) == len(range(0, 60, interval))
    assert all(0 <= m < 60 for m in minutes) and all(b - a == interval for a, b in zip(minutes, minutes[1:]))
    assert int(match.group("limit")) >= time_limit + 120


def test_weekly_verify_entry() -> None:
    assert len(job_lines(render_template("cron.j2"))) == 1  # off by default
    text = render_template("cron.j2", **VERIFY_CASE)
    sync, verify = job_lines(text)
    assert design_cron_pattern().match(sync)
    offset = role_vars(inventory_hostname="mirror01.iad")["pypi_mirror_cron_offset"]
    assert verify.startswith(f"{offset} 4 * * 3 pypi-mirror flock -n /run/pypi-mirror/verify.lock ")
    assert " /opt/pypi-mirror/venv/bin/pypi-mirror -c /etc/pypi-mirror.conf verify >> " in verify
    # A read-only verify takes no sync lock: it must not wait on (nor block) the sync's flock file.
    [sync_lock], [verify_lock] = (re.findall(r"flock -\w+ (\S+)", line) for line in (sync, verify))
    assert sync_lock == "/run/pypi-mirror/cron.lock" and verify_lock != sync_lock
    assert "--repair" not in verify and "--delete" not in verify


def test_lock_files_live_in_the_mirror_users_directory() -> None:
    """The tmpfiles.d entry recreates, at boot, the directory and lock files the cron lines use."""
    text = render_template("tmpfiles.conf.j2", **VERIFY_CASE)
    entries = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert entries == [
        ["d", "/run/pypi-mirror", "0700", "pypi-mirror", "pypi-mirror", "-"],
        ["f", "/run/pypi-mirror/cron.lock", "0600", "pypi-mirror", "pypi-mirror", "-"],
        ["f", "/run/pypi-mirror/verify.lock", "0600", "pypi-mirror", "pypi-mirror", "-"],
    ]
    cron_locks = {lock for line in job_lines(render_template("cron.j2", **VERIFY_CASE))
                  for lock in re.findall(r"flock -\w+ (\S+)", line)}
    assert cron_locks == {entry[1] for entry in entries if entry[0] == "f"}


@pytest.fixture(scope="module")
def logrotate_rules(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The rules rendered once, with every path inside one directory and root as the log owner."""
    base = tmp_path_factory.mktemp("logrotate")
    mirror_logs, vhost_logs = base / "log", base / "nginx"
    text = render_template(
        "logrotate.j2",
        pypi_mirror_log_dir=str(mirror_logs),
        pypi_mirror_nginx_log_dir=str(vhost_logs),
        pypi_mirror_nginx_pid_file=str(base / "nginx.pid"),
        pypi_mirror_user="root",
        pypi_mirror_group="root",
    )
    rules = base / "pypi-mirror"
    rules.write_text(text)
    return rules, mirror_logs, vhost_logs


@pytest.fixture
def logrotate_case(logrotate_rules: tuple[Path, Path, Path]) -> Iterator[tuple[Path, Path, Path]]:
    """The rendered rules with empty log directories (each test starts from nothing)."""
    rules, mirror_logs, vhost_logs = logrotate_rules
    for directory in (mirror_logs, vhost_logs):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
    yield logrotate_rules


def test_logrotate_rules_pass_logrotate_debug(tmp_path: Path, logrotate_case: tuple[Path, Path, Path]) -> None:
    rules, mirror_logs, vhost_logs = logrotate_case
    (mirror_logs / "cron.log").write_text("x\n")
    (vhost_logs / "access.log").write_text("x\n")
    result = subprocess.run(["/usr/sbin/logrotate", "-d", "-s", str(tmp_path / "state"), str(rules)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("error")], result.stderr
    assert f"rotating pattern: {mirror_logs}/*.log" in result.stderr
    assert f"{vhost_logs}/access.log" in result.stderr
    text = rules.read_text()
    for directive in ["daily", "rotate 14", "compress", "delaycompress", "missingok", "notifempty"]:
        assert text.count(f"    {directive}\n") == 2, directive


def test_logrotate_rules_rotate_and_signal_nginx(tmp_path: Path, logrotate_case: tuple[Path, Path, Path]) -> None:
    """A forced rotation really rotates both groups and runs the postrotate (USR1 to the PID)."""
    rules, mirror_logs, vhost_logs = logrotate_case
    (mirror_logs / "wrapper.log").write_text("line\n")
    (vhost_logs / "access.log").write_text("line\n")
    # A stand-in "nginx" that records the USR1 it receives.
    marker = tmp_path / "usr1"
    sleeper = subprocess.Popen(["/bin/sh", "-c", f"trap 'touch {marker}; exit 0' USR1; while :; do sleep 0.1; done"])
    try:
        (rules.parent / "nginx.pid").write_text(f"{sleeper.pid}\n")
        result = subprocess.run(["/usr/sbin/logrotate", "-f", "-s", str(tmp_path / "state"), str(rules)],
                                capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr
        sleeper.wait(timeout=10)
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
    assert marker.exists()
    assert (mirror_logs / "wrapper.log.1").read_text() == "line\n"
    assert (vhost_logs / "access.log.1").read_text() == "line\n"
    assert (mirror_logs / "wrapper.log").exists()  # `create` made a fresh one
    # The vhost's fresh logs are nginx's, as Debian's own rules for /var/log/nginx make them.
    fresh = (vhost_logs / "access.log").stat()
    assert (pwd.getpwuid(fresh.st_uid).pw_name, grp.getgrgid(fresh.st_gid).gr_name) == ("www-data", "adm")
    assert stat.S_IMODE(fresh.st_mode) == 0o640
