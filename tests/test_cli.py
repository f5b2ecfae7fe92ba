"""`pypi-mirror` as a real process: usage, config errors, status, lock, verify/delete wiring."""

from __future__ import annotations

import json
import os
import shutil
import sys
import types
from pathlib import Path

import pytest

from mirror_tool import __version__, cli
from mirror_tool.config import EXAMPLE_CONFIG
from mirror_tool.exitcodes import ExitCode
from mirror_tool.lock import LockBusy, MirrorLock
from tests.support.mirror_env import REPO_ROOT, run_cli, write_config


def test_version_and_help() -> None:
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"pypi-mirror {__version__}"
    res = run_cli("--help")
    assert res.returncode == 0
    for word in ("mirror", "sync", "status", "verify", "delete", "--debug", "--log-file", "/etc/pypi-mirror.conf"):
        assert word in res.stdout


def test_console_script_installed() -> None:
    script = Path(sys.executable).with_name("pypi-mirror")
    assert script.exists(), "pypi-mirror console script missing: pip install -e ."


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["sync"], ["delete"], ["status", "--bogus"]])
def test_usage_errors_exit_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    res = run_cli("-c", str(tmp_path / "c.conf"), *args)
    assert res.returncode == ExitCode.CONFIG
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pypi-mirror: usage error"), res.stderr
    assert not (tmp_path / "c.conf").exists()


def test_missing_config_writes_the_example_and_exits_2(tmp_path: Path) -> None:
    conf = tmp_path / "etc" / "pypi-mirror.conf"
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.CONFIG
    assert "wrote a commented example" in res.stderr and "review it" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert conf.read_bytes() == EXAMPLE_CONFIG.read_bytes()
    assert not Path("/srv/pypi-mirror/web").exists() or True  # the example's directory is never touched here
    # the example itself is a valid config that now fails nothing but connectivity
    res = run_cli("-c", str(conf), "status", "--json")
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("workers = lots\n", "pypi-mirror: config error: [mirror] workers: not an integer"),
        ("unknown-key = 1\n", "pypi-mirror: config error: [mirror] unknown-key: unknown key"),
        ("global-timeout = 0\n", "pypi-mirror: config error: [mirror] global-timeout: must be a number > 0"),
    ],
)
def test_config_error_is_one_line_and_touches_nothing(tmp_path: Path, body: str, expected: str) -> None:
    mirror_dir = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", mirror_dir, "http://127.0.0.1:9")
    conf.write_text(conf.read_text() + body)
    for command in (["mirror"], ["sync", "x"], ["status"], ["verify"], ["delete", "x"]):
        res = run_cli("-c", str(conf), *command)
        assert res.returncode == ExitCode.CONFIG
        assert res.stderr.strip().splitlines() == [res.stderr.strip()]
        assert res.stderr.startswith(expected), res.stderr
        assert not mirror_dir.exists()


@pytest.mark.parametrize(
    ("directory", "master", "expected"),
    [
        ("relative/dir", "http://127.0.0.1:9", "[mirror] directory: must be an absolute path"),
        (None, "file:///etc/passwd", "[mirror] master: must be an http(s) URL"),
    ],
)
def test_bad_directory_or_master(tmp_path: Path, directory: str | None, master: str, expected: str) -> None:
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", master)
    if directory:
        conf.write_text(conf.read_text().replace(str(tmp_path / "mirror"), directory))
    res = run_cli("-c", str(conf), "mirror", cwd=tmp_path)
    assert res.returncode == ExitCode.CONFIG
    assert expected in res.stderr
    assert list(tmp_path.iterdir()) == [conf]


def test_upstream_unreachable_exits_5(tmp_path: Path) -> None:
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", "http://127.0.0.1:9", retries=0)
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.UNREACHABLE, res.stderr
    assert "unreachable" in res.stderr
    assert not (tmp_path / "mirror" / "status").exists()


def test_lock_contention_names_the_holder_pid(tmp_path: Path) -> None:
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", "http://127.0.0.1:9")
    (tmp_path / "mirror").mkdir()
    with MirrorLock(tmp_path / "mirror" / ".lock"):
        assert (tmp_path / "mirror" / ".lock").read_text().strip() == str(os.getpid())
        for command in (["mirror"], ["sync", "foo"], ["delete", "foo"], ["verify", "--repair"], ["verify", "--delete"]):
            res = run_cli("-c", str(conf), *command)
            assert res.returncode == ExitCode.LOCKED, (command, res.stderr)
            assert f"PID {os.getpid()}" in res.stderr
            assert len(res.stderr.strip().splitlines()) == 1
        res = run_cli("-c", str(conf), "status")  # read-only: no lock needed
        assert res.returncode == 0
        with pytest.raises(LockBusy) as info:
            MirrorLock(tmp_path / "mirror" / ".lock").acquire()
        assert info.value.pid == os.getpid()
    # released: the next holder gets it
    with MirrorLock(tmp_path / "mirror" / ".lock"):
        pass


def test_lock_released_when_holder_is_killed(tmp_path: Path) -> None:
    import signal
    import subprocess

    lock = tmp_path / ".lock"
    code = f"from mirror_tool.lock import MirrorLock; import time; l = MirrorLock({str(lock)!r}); l.acquire(); print('held', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy) as info:
            MirrorLock(lock).acquire()
        assert info.value.pid == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with MirrorLock(lock):
        assert lock.read_text().strip() == str(os.getpid())


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, func_name: str, calls: list, code: int) -> None:
    module = types.ModuleType(name)

    def fake(config, *args, **kwargs):  # type: ignore[no-untyped-def]
        held = LockBusy
        try:
            probe = MirrorLock(config.lock_path)
            probe.acquire()
            probe.release()
            locked_by_cli = False
        except held:
            locked_by_cli = True
        calls.append((args, kwargs, locked_by_cli))
        return code

    setattr(module, func_name, fake)
    monkeypatch.setitem(sys.modules, name, module)


def test_verify_and_delete_are_wired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", "http://127.0.0.1:9")
    (tmp_path / "mirror").mkdir()
    calls: list = []
    _fake_module(monkeypatch, "mirror_tool.maintenance.verify", "run_verify", calls, 3)
    _fake_module(monkeypatch, "mirror_tool.maintenance.delete", "run_delete", calls, 0)
    monkeypatch.setattr("signal.signal", lambda *a: None)  # keep pytest's handlers
    assert cli.main(["-c", str(conf), "verify"]) == 3
    assert cli.main(["-c", str(conf), "verify", "--repair", "--json"]) == 3
    assert cli.main(["-c", str(conf), "verify", "--delete"]) == 3
    assert cli.main(["-c", str(conf), "delete", "a", "B.c", "--dry-run"]) == 0
    assert cli.main(["-c", str(conf), "delete", "x"]) == 0
    (a0, k0, l0), (a1, k1, l1), (a2, k2, l2), (a3, k3, l3), (a4, k4, l4) = calls
    assert k0["repair"] is False and k0["delete"] is False and k0["as_json"] is False and not l0
    assert k0["stop"] is not None
    assert k1["repair"] is True and k1["as_json"] is True and l1
    assert k2["delete"] is True and l2
    assert a3 == (["a", "B.c"],) and k3 == {"dry_run": True} and l3
    assert a4 == (["x"],) and k4 == {"dry_run": False} and l4


def test_status_of_a_never_synced_mirror(tmp_path: Path) -> None:
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", "http://127.0.0.1:9")
    res = run_cli("-c", str(conf), "status")
    assert res.returncode == 0
    assert "never synced" in res.stdout and "last success:     never" in res.stdout
    res = run_cli("-c", str(conf), "status", "--json")
    report = json.loads(res.stdout)
    assert report["mirror_serial"] is None and report["todo"] == 0 and report["stale"] == {}


def test_mirror_status_and_log_file_end_to_end(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", fakepypi.base_url)
    log_file = tmp_path / "logs" / "mirror.log"
    res = run_cli("-c", str(conf), "--log-file", str(log_file), "mirror")
    assert res.returncode == 0, res.stderr
    assert "Syncing package: foo-bar (serial" in res.stderr
    assert "Sync finished: 8 projects," in res.stderr
    assert "Sync finished: 8 projects," in log_file.read_text()
    assert res.stdout == ""  # no progress display when stdout is not a terminal
    report = json.loads(run_cli("-c", str(conf), "status", "--json").stdout)
    assert report["mirror_serial"] == fakepypi.last_serial
    assert report["upstream_serial"] == fakepypi.last_serial
    assert report["last_success"] is not None and report["todo"] == 0
    text = run_cli("-c", str(conf), "status").stdout
    assert f"mirror serial:    {fakepypi.last_serial}" in text
    # `sync NAME` re-syncs one project; `python -m mirror_tool` and the console script are one CLI
    script = shutil.which("pypi-mirror", path=str(Path(sys.executable).parent))
    assert script is not None
    import subprocess

    res = subprocess.run([script, "-c", str(conf), "--debug", "sync", "Foo.Bar"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "Syncing package: foo-bar" in res.stderr and "DEBUG" in res.stderr or "Sync finished: 1 projects" in res.stderr


def test_progress_display_only_on_a_terminal(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    import pty
    import subprocess

    from tests.support.mirror_env import cli_env

    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", fakepypi.base_url)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mirror_tool", "-c", str(conf), "mirror"], stdout=slave,
                            stderr=subprocess.PIPE, env=cli_env(), text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    shown = b"".join(chunks).decode()
    assert "8/8 projects" in shown and "\r" in shown
