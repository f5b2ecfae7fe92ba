"""A manual `pypi-mirror-run` on a terminal shows its summary and errors there (even "lock
busy"); under cron (stdout not a terminal) everything goes to the log file only."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from mirror_tool.lock import MirrorLock
from mirror_tool.wrapper.clock import CLOCK_OFFSET_ENV
from tests.test_wrapper_support import LOG_LINE, WRAPPER_TIMEOUT, run_wrapper, wrapper_command, write_config


def run_on_terminal(config: Path) -> tuple[int, list[str]]:
    """`pypi-mirror-run -c config` with stdout on a pseudo-terminal; (exit code, lines it showed)."""
    env = dict(os.environ)
    env[CLOCK_OFFSET_ENV] = "0.0"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    master, slave = pty.openpty()
    proc = subprocess.Popen(wrapper_command() + ["-c", str(config)], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + WRAPPER_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed (the run ended)
                break
            if not data:
                break
            out += data
        code = proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    # Log lines only: a terminal also gets the sync's updating progress line (`\r`-separated).
    return code, [line for line in out.decode().splitlines() if LOG_LINE.match(line)]


def configure(tmp_path: Path, master: str) -> tuple[Path, Path, Path]:
    log = tmp_path / "log" / "wrapper.log"
    mirror = tmp_path / "mirror"
    config = write_config(tmp_path / "w.conf", mirror, master, wrapper={"log-file": str(log)})
    return config, mirror, log


def test_summary_and_errors_on_the_terminal_everything_in_the_log(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    config, _, log = configure(tmp_path, fakepypi.base_url)
    code, shown = run_on_terminal(config)
    assert code == 0
    assert len(shown) == 1 and "pypi-mirror-run finished: exit 0, 8 synced" in shown[0], shown
    logged = log.read_text().splitlines()
    assert shown[0] in logged and any("Syncing package: foo-bar" in line for line in logged)
    # An error is shown too: upstream gone.
    fakepypi.set_xmlrpc("404")
    fakepypi.add_fault("status", prefix="/simple/", status=503)
    code, shown = run_on_terminal(config)
    assert code == 5
    assert any(" ERROR: " in line and "unreachable" in line for line in shown), shown
    assert "pypi-mirror-run finished: exit 5" in shown[-1]


def test_lock_busy_is_shown_on_the_terminal_not_under_cron(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    config, mirror, log = configure(tmp_path, fakepypi.base_url)
    mirror.mkdir()
    with MirrorLock(mirror / ".lock"):
        code, shown = run_on_terminal(config)
        assert code == 4
        assert len(shown) == 1 and "another run holds the lock" in shown[0] and f"PID {os.getpid()}" in shown[0]
        cron = run_wrapper(config)  # stdout a pipe, as cron's `>> cron.log`
        assert cron.returncode == 4 and cron.stdout == "" and cron.stderr == ""
    assert [line.split(": ", 1)[1] for line in log.read_text().splitlines()] == [shown[0].split(": ", 1)[1]] * 2
