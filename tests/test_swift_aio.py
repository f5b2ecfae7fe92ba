"""scripts/swift_aio.py itself: idempotent start, clean stop, data kept across restarts, one-line errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.swift import SCRIPT, Swift, start_swift, stop_swift, unavailable_reason


def swift_aio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def processes_naming(directory: Path) -> dict[int, str]:
    """Live processes (pid: command line) that name a file under `directory`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f"{directory}/" in cmdline:
                found[int(entry.name)] = cmdline
    return found


def servers(directory: Path) -> dict[int, str]:
    """The instance's long-lived servers: the session leaders (workers and sweeps come and go)."""
    leaders = {}
    for pid, cmdline in processes_naming(directory).items():
        try:
            if os.getpgid(pid) == pid:
                leaders[pid] = cmdline
        except ProcessLookupError:
            continue
    return leaders


@pytest.fixture
def needs_swift() -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)


def test_start_of_a_running_instance_changes_nothing(swift: Swift) -> None:
    before = servers(swift.directory)
    assert len(before) == 6, before  # memcached, account, container, object, object-updater, proxy
    again = swift_aio("start", str(swift.directory), "--port", "0")
    assert (again.returncode, again.stderr) == (0, "")  # "swift-aio: started ..." only when it started
    assert f"SWIFT_AIO_ENDPOINT={swift.endpoint}" in again.stdout.splitlines()
    assert servers(swift.directory) == before
    status = swift_aio("status", str(swift.directory))
    assert (status.returncode, status.stdout.strip()) == (0, f"swift-aio: running on port {swift.endpoint.rsplit(':', 1)[1]}")


def test_stop_leaves_no_process_and_a_restart_keeps_the_data(needs_swift: None, tmp_path: Path) -> None:
    directory = tmp_path / "aio"
    first = start_swift(directory)
    try:
        bucket = first.new_bucket()
        first.s3().put_object(Bucket=bucket, Key="simple/index.html", Body=b"kept")
        assert processes_naming(directory)
        stop_swift(directory)
        assert processes_naming(directory) == {}
        status = swift_aio("status", str(directory))
        assert (status.returncode, status.stdout.strip()) == (3, "swift-aio: not running")
        assert swift_aio("stop", str(directory)).returncode == 0  # stopping twice is fine
        second = start_swift(directory)
        assert second.secret_key == first.secret_key
        assert second.s3().get_object(Bucket=bucket, Key="simple/index.html")["Body"].read() == b"kept"
    finally:
        stop_swift(directory)
    assert processes_naming(directory) == {}


def test_a_busy_port_is_one_line_error(needs_swift: None, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = swift_aio("start", str(tmp_path / "aio"), "--port", str(port))
    assert done.returncode == 1
    assert done.stderr == f"swift-aio: error: port {port} on 127.0.0.1 is in use: pass another --port (0 = any free)\n"
    assert processes_naming(tmp_path / "aio") == {}


def test_commands_on_a_directory_without_an_instance(tmp_path: Path) -> None:
    assert swift_aio("stop", str(tmp_path)).returncode == 0
    status = swift_aio("status", str(tmp_path))
    assert (status.returncode, status.stdout) == (3, "swift-aio: not running\n")
    env = swift_aio("env", str(tmp_path))
    assert (env.returncode, env.stderr) == (1, f"swift-aio: error: no instance in {tmp_path} (run start first)\n")
