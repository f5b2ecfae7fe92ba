"""The crontab line the role installs is the command these tests run.

`roles/pypi_mirror/templates/cron.j2` is rendered by Ansible from the role's
`defaults/main.yml` (tests/support/role_render.py). The job line must have the exact form fixed in
docs/design.md. The only transformation before running it is replacing four production paths by
test paths, as whole substrings:

    /opt/pypi-mirror/venv/bin/        -> this interpreter's bin/ (where pypi-mirror-run is installed)
    /etc/pypi-mirror.conf             -> the test's config file
    /run/pypi-mirror/cron.lock        -> <tmp>/cron.lock
    /var/log/pypi-mirror/cron.log     -> <tmp>/log/cron.log

The result runs as cron runs it: `env -i` with the cron file's variables (plus HOME, LOGNAME,
SHELL as cron sets them) and `/bin/sh -c COMMAND`. The user field is not applied (tests run as
the current user; the role's molecule scenario covers the real user).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mirror_tool.config import load_config
from mirror_tool.lock import MirrorLock
from tests.support.role_render import prepare_renders, render_template, role_vars
from tests.test_wrapper_support import LOG_LINE, metric, read_metrics, write_config

ROOT = Path(__file__).resolve().parents[1]
ROLE = ROOT / "roles" / "pypi_mirror"
HOSTNAME = "mirror-eu-west-1.example"

CRON_LINE = re.compile(
    r"^(?P<minutes>\d+(?:,\d+)*) \* \* \* \* (?P<user>\S+) "
    r"(?P<command>flock -n /run/pypi-mirror/cron\.lock timeout -k 60 (?P<limit>\d+) "
    r"/opt/pypi-mirror/venv/bin/pypi-mirror-run -c /etc/pypi-mirror\.conf "
    r">> /var/log/pypi-mirror/cron\.log 2>&1)$"
)


prepare_renders({"inventory_hostname": HOSTNAME})


def cron_parts(text: str) -> tuple[dict[str, str], str]:
    """(variables, the pypi-mirror-run job line) of a rendered cron file."""
    variables: dict[str, str] = {}
    jobs = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", stripped)
        if match:
            variables[match.group(1)] = match.group(2)
        elif "pypi-mirror-run" in stripped:
            jobs.append(stripped)
    assert len(jobs) == 1, text
    return variables, jobs[0]


@pytest.fixture
def cron_job(tmp_path):
    """The rendered cron file's variables, its job line, and the line made runnable here."""
    variables, line = cron_parts(render_template("cron.j2", inventory_hostname=HOSTNAME))
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "pypi-mirror-run").exists(), "pip install -e . first"
    paths = {
        "/opt/pypi-mirror/venv/bin/": f"{bin_dir}/",
        "/etc/pypi-mirror.conf": str(tmp_path / "pypi-mirror.conf"),
        "/run/pypi-mirror/cron.lock": str(tmp_path / "cron.lock"),
        "/var/log/pypi-mirror/cron.log": str(tmp_path / "log" / "cron.log"),
    }
    match = CRON_LINE.match(line)
    assert match, f"cron line does not have the form fixed in docs/design.md: {line}"
    command = match.group("command")
    for production, test in paths.items():
        assert command.count(production) == 1
        command = command.replace(production, test)
    (tmp_path / "log").mkdir()
    return variables, match, command


def run_as_cron(variables: dict[str, str], command: str, home: Path) -> int:
    """`env -i` + the cron file's variables + what cron itself sets, then `/bin/sh -c`."""
    assignments = [f"HOME={home}", "LOGNAME=root", "SHELL=/bin/sh"] + [f"{k}={v}" for k, v in variables.items()]
    proc = subprocess.run(["env", "-i", *assignments, "/bin/sh", "-c", command], timeout=180)
    return proc.returncode


def test_rendered_cron_line_has_the_designed_form():
    raw = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values = role_vars(inventory_hostname=HOSTNAME)
    variables, line = cron_parts(render_template("cron.j2", inventory_hostname=HOSTNAME))
    assert variables == {"LC_ALL": "C.UTF-8", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    match = CRON_LINE.match(line)
    assert match, line
    assert match.group("user") == "pypi-mirror"
    assert int(match.group("limit")) == int(raw["pypi_mirror_wrapper_time_limit"]) + 120
    interval, offset = int(raw["pypi_mirror_cron_interval"]), int(values["pypi_mirror_cron_offset"])
    assert 0 <= offset < interval
    assert [int(m) for m in match.group("minutes").split(",")] == list(range(offset, 60, interval))
    assert "%" not in line  # cron would turn it into a newline


def test_cron_line_runs_the_wrapper(tmp_path, fakepypi, cron_job):
    variables, _, command = cron_job
    metrics_file = tmp_path / "textfile" / "pypi_mirror.prom"
    write_config(tmp_path / "pypi-mirror.conf", tmp_path / "mirror", fakepypi.base_url,
                 wrapper={"metrics-file": str(metrics_file)})

    assert run_as_cron(variables, command, tmp_path) == 0

    cron_log = (tmp_path / "log" / "cron.log").read_text()
    lines = cron_log.splitlines()
    assert any("Sync finished:" in line for line in lines), cron_log
    assert all(LOG_LINE.match(line) for line in lines), cron_log
    assert int((tmp_path / "mirror" / "status").read_text()) == fakepypi.last_serial
    assert metric(read_metrics(metrics_file), "exit_code") == 0


def test_cron_line_passes_lock_busy_exit_code(tmp_path, fakepypi, cron_job):
    variables, _, command = cron_job
    write_config(tmp_path / "pypi-mirror.conf", tmp_path / "mirror", fakepypi.base_url)
    (tmp_path / "mirror").mkdir()
    with MirrorLock(tmp_path / "mirror" / ".lock"):
        assert run_as_cron(variables, command, tmp_path) == 4
    lines = (tmp_path / "log" / "cron.log").read_text().splitlines()
    assert len(lines) == 1 and f"PID {os.getpid()}" in lines[0]


def test_role_config_template_drives_the_wrapper(tmp_path, fakepypi):
    """The role's rendered config (paths moved to tmp) is accepted and its [wrapper] keys apply."""
    case = {
        "inventory_hostname": HOSTNAME,
        "pypi_mirror_directory": str(tmp_path / "mirror"),
        "pypi_mirror_master": fakepypi.base_url,
        "pypi_mirror_log_dir": str(tmp_path / "log"),
        "pypi_mirror_metrics_dir": str(tmp_path / "textfile"),
    }
    values = role_vars(**case)
    config_path = tmp_path / "pypi-mirror.conf"
    config_path.write_text(render_template("pypi-mirror.conf.j2", **case))
    config = load_config(config_path)
    assert config.wrapper.time_limit == float(values["pypi_mirror_wrapper_time_limit"])
    assert config.wrapper.metrics_file == tmp_path / "textfile" / "pypi_mirror.prom"
    proc = subprocess.run([str(Path(sys.executable).parent / "pypi-mirror-run"), "-c", str(config_path)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "Sync finished:" in (tmp_path / "log" / "wrapper.log").read_text()
    assert metric(read_metrics(tmp_path / "textfile" / "pypi_mirror.prom"), "exit_code") == 0
    assert json.loads((tmp_path / "mirror" / "stale.json").read_text())["projects"] == {}


def test_weekly_verify_runs_while_a_sync_holds_its_locks(tmp_path, fakepypi):
    """The role's verify line, started while a sync holds both the sync job's flock file and the
    tool's lock, runs to its report at once: a read-only verify neither waits for nor blocks syncs."""
    case = {
        "inventory_hostname": HOSTNAME,
        "pypi_mirror_verify_enabled": True,
        "pypi_mirror_venv": str(Path(sys.executable).parent.parent),
        "pypi_mirror_config_file": str(tmp_path / "pypi-mirror.conf"),
        "pypi_mirror_run_dir": str(tmp_path / "run"),
        "pypi_mirror_log_dir": str(tmp_path / "log"),
    }
    values = role_vars(**case)
    text = render_template("cron.j2", **case)
    variables, sync_line = cron_parts(text)
    [sync_lock] = re.findall(r"flock -n (\S+) ", sync_line)
    [verify_line] = [line for line in text.splitlines() if " verify >> " in line]
    _, hour, _, _, weekday, user, command = verify_line.split(maxsplit=6)
    assert (hour, weekday, user) == ("3", "0", "pypi-mirror")  # the user field is not applied here

    config = write_config(tmp_path / "pypi-mirror.conf", tmp_path / "mirror", fakepypi.base_url)
    synced = subprocess.run([str(Path(sys.executable).parent / "pypi-mirror"), "-c", str(config), "mirror"],
                            capture_output=True, text=True, timeout=120)
    assert synced.returncode == 0, synced.stderr
    (tmp_path / "run").mkdir()
    (tmp_path / "log").mkdir()
    # A sync in progress: the sync job's flock file and the tool's own lock are both held.
    with open(sync_lock, "w") as held, MirrorLock(tmp_path / "mirror" / ".lock"):
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert run_as_cron(variables, command, tmp_path) == 0
    report = Path(values["pypi_mirror_verify_log_file"]).read_text()
    assert "Verify finished:" in report, report
