"""The no-op fast path of `pypi-mirror mirror` (mirror_tool/noop_fastpath.py, mirror_tool/entry.py).

Real processes against the fake upstream. Whether the fast path answered is read from
`-X importtime` (PYTHONPROFILEIMPORTTIME=1): the full path imports `mirror_tool.mirror`, the fast
path never does.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirror_tool import __version__
from mirror_tool.exitcodes import ExitCode
from mirror_tool.layout import Layout
from mirror_tool.lock import MirrorLock
from mirror_tool.noop_fastpath import (
    _CONFIG_SEPARATOR,
    FASTPATH_FILE,
    _config_path,
    _json_number,
    _mirror_directory,
    _parse_record,
    _split_master,
)
from mirror_tool.state import RunState, read_run_state, write_run_state
from tests.support.mirror_env import cli_env, run_cli, write_config
from tests.support.tree_check import files_on_disk
from tests.support.upstream_compare import assert_mirror_matches

ENGINE = re.compile(r"^import time:.*\|\s*mirror_tool\.mirror$", re.M)
SUMMARY = "INFO: Sync finished: 0 projects, 0 files, 0 bytes"


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.returncode = proc.returncode
        self.raw_stderr = proc.stderr
        self.stdout = proc.stdout
        self.lines = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
        self.stderr = "\n".join(self.lines)
        self.fast = not ENGINE.search(proc.stderr)
        assert "import time:" in proc.stderr, "import profiling did not run: cannot tell which path ran"


def run_timed(*args: str, timeout: float = 60) -> Run:
    """`python -m mirror_tool ARGS` with import profiling on (stderr)."""
    env = cli_env()
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    proc = subprocess.run([sys.executable, "-m", "mirror_tool", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    return Run(proc)


def synced(tmp_path: Path, fp, **keys) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """Config + a first full sync; returns (config path, mirror directory)."""
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url, **keys)
    first = run_timed("-c", str(conf), "mirror")
    assert first.returncode == ExitCode.OK, first.stderr
    assert not first.fast  # nothing to trust yet: the full path ran
    assert (directory / FASTPATH_FILE).exists()
    return conf, directory


# -- the fast path answers ---------------------------------------------------------------------


def test_second_run_takes_fast_path_and_writes_state(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    log_file = tmp_path / "mirror.log"
    conf, directory = synced(tmp_path, fp, log_file=log_file)
    layout = Layout(directory)
    before = read_run_state(layout)
    assert before.last_run_end is not None
    tree_before = files_on_disk(directory)
    log_before = log_file.read_text().splitlines()
    fp.clear_log()
    time.sleep(0.02)

    run = run_timed("-c", str(conf), "mirror")

    assert run.returncode == ExitCode.OK, run.stderr
    assert run.fast, "the sync engine was imported for a no-op run"
    assert len(run.lines) == 1 and SUMMARY in run.lines[0], run.stderr
    assert run.lines[0].endswith("0 stale, 0 failed")
    log_after = log_file.read_text().splitlines()
    assert log_after[: len(log_before)] == log_before  # appended, not rewritten
    assert len(log_after) == len(log_before) + 1 and SUMMARY in log_after[-1]
    # exactly one upstream call: the XML-RPC feed
    requests = fp.requests()
    assert [(r["method"], r["path"]) for r in requests] == [("POST", "/pypi")], requests
    # state.json as the full path would write it for a no-op
    after = read_run_state(layout)
    assert after.last_run_end is not None and after.last_run_end > before.last_run_end
    assert after.last_run_start is not None and before.last_run_end < after.last_run_start <= after.last_run_end
    assert after.last_success == after.last_run_end
    assert after.failing == {}
    assert after.upstream_serial == fp.last_serial
    assert after.last_reconcile == before.last_reconcile  # no reconciliation happened
    raw_state = json.loads((directory / "state.json").read_text())
    assert set(raw_state) == {"upstream_serial", "last_success", "last_run_start", "last_run_end", "last_reconcile", "failing"}
    stale = json.loads((directory / "stale.json").read_text())
    assert stale["projects"] == {} and isinstance(stale["generated"], float)
    assert int((directory / "status").read_text()) == fp.last_serial
    assert files_on_disk(directory) == tree_before
    assert not (directory / "todo").exists()
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    # the lock is free again and `status` still reads everything
    with MirrorLock(directory / ".lock"):
        pass
    status = run_cli("-c", str(conf), "status", "--json")
    assert status.returncode == ExitCode.OK, status.stderr
    report = json.loads(status.stdout)
    assert report["mirror_serial"] == fp.last_serial
    assert report["last_success"] == pytest.approx(after.last_success)
    assert report["todo"] == 0
    # and again: still fast, still consistent
    again = run_timed("-c", str(conf), "mirror")
    assert again.returncode == ExitCode.OK and again.fast
    assert read_run_state(layout).last_run_end > after.last_run_end


def test_config_equals_form_takes_fast_path(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, directory = synced(tmp_path, fakepypi)
    run = run_timed(f"--config={conf}", "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert run.fast
    run = run_timed("--config", str(conf), "mirror")
    assert run.returncode == ExitCode.OK and run.fast


# -- the fast path declines --------------------------------------------------------------------


def test_upload_upstream_declines_and_full_path_syncs(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    conf, directory = synced(tmp_path, fp)
    new = fp.upload("Foo.Bar", "7.0.0")
    names = {f["filename"] for f in new["files"]}
    assert names
    assert not any(Path(p).name in names for p in files_on_disk(directory))
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast
    on_disk = {Path(p).name for p in files_on_disk(directory)}
    assert names <= on_disk
    assert int((directory / "status").read_text()) == fp.last_serial
    assert_mirror_matches(fp, directory)
    assert "Sync finished: 1 projects" in run.stderr
    # caught up: the next no-op is fast again
    assert run_timed("-c", str(conf), "mirror").fast


def test_config_edit_runs_full_path_once_and_rewrites_record(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    conf, directory = synced(tmp_path, fp)
    record = (directory / FASTPATH_FILE).read_text()
    write_config(conf, directory, fp.base_url, workers=5)
    text = conf.read_text()
    assert "workers = 5" in text and text not in record
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast
    rewritten = _parse_record((directory / FASTPATH_FILE).read_text())
    assert rewritten["config"] == text
    assert rewritten["version"] == __version__
    assert rewritten["directory"] == str(directory)
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK and run.fast


def test_held_lock_exit_4_with_message(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, directory = synced(tmp_path, fakepypi)
    state_before = (directory / "state.json").read_text()
    with MirrorLock(directory / ".lock"):
        run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.LOCKED, run.stderr
    assert "another run holds the lock" in run.stderr and f"PID {os.getpid()}" in run.stderr
    assert len(run.lines) == 1, run.stderr
    assert (directory / "state.json").read_text() == state_before  # nothing written
    # released: fast again
    assert run_timed("-c", str(conf), "mirror").fast


def test_existing_todo_takes_full_path(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    conf, directory = synced(tmp_path, fp)
    serial = fp.project("Foo.Bar")["last_serial"]
    (directory / "todo").write_text(json.dumps({"target_serial": fp.last_serial, "projects": {"foo-bar": serial}}))
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast
    assert "foo-bar" in run.stderr
    assert not (directory / "todo").exists()
    assert_mirror_matches(fp, directory)
    assert run_timed("-c", str(conf), "mirror").fast


def test_reconciliation_due_takes_full_path(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, directory = synced(tmp_path, fakepypi, reconcile_interval=0.0001)  # 0.36 s
    first_reconcile = read_run_state(Layout(directory)).last_reconcile
    assert first_reconcile is not None
    time.sleep(0.5)
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast
    assert read_run_state(Layout(directory)).last_reconcile > first_reconcile


def test_reconcile_interval_zero_always_full_path(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, _ = synced(tmp_path, fakepypi, reconcile_interval=0)
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast


def test_changelog_source_index_takes_full_path(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, directory = synced(tmp_path, fakepypi, changelog_source="index")
    assert _parse_record((directory / FASTPATH_FILE).read_text())["changelog_source"] == "index"
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast


def test_changelog_source_xmlrpc_takes_fast_path(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, _ = synced(tmp_path, fakepypi, changelog_source="xmlrpc")
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert run.fast


def test_upstream_gone_exit_5_one_error_line(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    conf, directory = synced(tmp_path, fp)
    state_before = read_run_state(Layout(directory))
    fp.stop()
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.UNREACHABLE, run.stderr
    assert not run.fast
    errors = [line for line in run.lines if "ERROR" in line or "error" in line.lower()]
    assert len(errors) == 1 and "unreachable" in errors[0], run.stderr
    assert "Traceback" not in run.raw_stderr
    after = read_run_state(Layout(directory))
    assert after.last_success == state_before.last_success  # a failed run is no success


def test_unknown_config_key_exit_2(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, directory = synced(tmp_path, fakepypi)
    conf.write_text(conf.read_text() + "no-such-key = 1\n")
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.CONFIG, run.stderr
    assert "no-such-key" in run.stderr
    assert len(run.lines) == 1, run.stderr


def test_debug_flag_takes_full_path(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, _ = synced(tmp_path, fakepypi)
    run = run_timed("-c", str(conf), "--debug", "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast
    assert SUMMARY in run.stderr


def test_missing_generation_takes_full_path(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, directory = synced(tmp_path, fakepypi)
    (directory / "generation").unlink()
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast
    assert (directory / "generation").exists()


def test_record_of_another_version_is_not_trusted(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    conf, directory = synced(tmp_path, fakepypi)
    path = directory / FASTPATH_FILE
    path.write_text(path.read_text().replace(f"version={__version__}\n", "version=0.0.0-other\n", 1))
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert not run.fast
    assert _parse_record(path.read_text())["version"] == __version__  # rewritten by the full path


def test_xmlrpc_fault_declines(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    conf, _ = synced(tmp_path, fp)
    fp.set_xmlrpc("404")
    run = run_timed("-c", str(conf), "mirror")
    assert not run.fast  # the answer was not "HTTP 200 and an empty array"


def test_unopenable_log_file_is_not_recorded_as_success(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    log_file = tmp_path / "mirror.log"
    conf, directory = synced(tmp_path, fakepypi, log_file=log_file)
    before = read_run_state(Layout(directory))
    log_file.unlink()
    log_file.mkdir()  # the log file cannot be opened any more
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.STORAGE, run.stderr
    assert "cannot open log file" in run.stderr
    assert "Sync finished" not in run.stderr  # the run did not finish
    assert read_run_state(Layout(directory)).last_success == before.last_success


# -- pure helpers ------------------------------------------------------------------------------


def test_config_path_forms() -> None:
    assert _config_path(["mirror"]) == "/etc/pypi-mirror.conf"
    assert _config_path(["-c", "/x.conf", "mirror"]) == "/x.conf"
    assert _config_path(["--config", "/x.conf", "mirror"]) == "/x.conf"
    assert _config_path(["--config=/x.conf", "mirror"]) == "/x.conf"
    assert _config_path(["--config=", "mirror"]) == ""
    for args in (
        [],
        ["status"],
        ["-c", "/x.conf", "status"],
        ["-c", "/x.conf", "--debug", "mirror"],
        ["--debug", "mirror"],
        ["mirror", "--debug"],
        ["-c", "/x.conf", "mirror", "extra"],
        ["--log-file", "/x.conf", "mirror"],
        ["-c=/x.conf", "mirror"],
        ["sync", "foo"],
    ):
        assert _config_path(args) is None, args


def test_mirror_directory_parsing() -> None:
    assert _mirror_directory("[mirror]\ndirectory = /srv/pypi\n") == "/srv/pypi"
    assert _mirror_directory("[mirror]\ndirectory: /srv/pypi\n") == "/srv/pypi"
    assert _mirror_directory("[mirror]\nDirectory=/srv/pypi  \n") == "/srv/pypi"
    assert _mirror_directory("[ mirror ]\ndirectory = /a\n") == "/a"
    # only [mirror]; the last value wins
    text = "[wrapper]\ndirectory = /wrong\n[mirror]\ndirectory = /one\ndirectory = /two\n[other]\ndirectory = /x\n"
    assert _mirror_directory(text) == "/two"
    # relative, empty, missing, or a continuation line: not trusted
    assert _mirror_directory("[mirror]\ndirectory = srv/pypi\n") is None
    assert _mirror_directory("[mirror]\ndirectory =\n") is None
    assert _mirror_directory("[mirror]\nmaster = http://x\n") is None
    assert _mirror_directory("directory = /outside\n[mirror]\n") is None
    assert _mirror_directory("[mirror]\nfoo = bar\n  directory = /continued\n") is None


def test_json_number_on_state_written_by_state_module(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    state = RunState(upstream_serial=123456, last_success=1795955343.335803, last_run_start=1e-05,
                     last_run_end=1795955343.0, last_reconcile=None, failing={"a-b": "HTTP 500, then \"x\"\n"})
    write_run_state(layout, state)
    text = layout.state_json.read_text()
    assert _json_number(text, "upstream_serial") == 123456
    assert _json_number(text, "last_success") == 1795955343.335803
    assert _json_number(text, "last_run_start") == 1e-05
    assert _json_number(text, "last_run_end") == 1795955343.0
    assert _json_number(text, "last_reconcile") is None
    # the last key before "failing" and an empty failing map
    write_run_state(layout, RunState(upstream_serial=0, last_reconcile=12.5))
    text = layout.state_json.read_text()
    assert _json_number(text, "last_reconcile") == 12.5
    assert _json_number(text, "upstream_serial") == 0
    assert _json_number(text, "last_success") is None


def test_json_number_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        _json_number("", "last_reconcile")
    with pytest.raises(ValueError):
        _json_number('{"last_reconcile": 1.0}', "last_reconcile")  # not our writer's shape
    with pytest.raises(ValueError):
        _json_number('{\n "last_reconcile": "soon",\n "failing": {}\n}', "last_reconcile")
    with pytest.raises(ValueError):
        _json_number('{\n "last_reconcile": ,\n}', "last_reconcile")
    with pytest.raises(ValueError):
        _json_number('{\n "upstream_serial": 5\n}', "last_reconcile")
    with pytest.raises(ValueError):
        _json_number('\x00\xff garbage', "upstream_serial")


def test_parse_record() -> None:
    config = "[mirror]\ndirectory = /srv\nmaster = http://h\n# a=b in a comment\n"
    text = "version=1.2\ndirectory=/srv\nmaster=http://h:1/p?a=b\nlog_file=\n" + _CONFIG_SEPARATOR + config
    record = _parse_record(text)
    assert record["version"] == "1.2"
    assert record["master"] == "http://h:1/p?a=b"  # split at the first "=" only
    assert record["log_file"] == ""
    assert record["config"] == config
    assert "# a" not in record
    with pytest.raises(ValueError):
        _parse_record("version=1.2\ndirectory=/srv\n")
    # a config that itself contains the separator text: the first one splits
    tricky = "a=1" + _CONFIG_SEPARATOR + "x" + _CONFIG_SEPARATOR + "y"
    assert _parse_record(tricky)["config"] == "x" + _CONFIG_SEPARATOR + "y"


def test_split_master() -> None:
    assert _split_master("http://127.0.0.1:8080") == ("http", "127.0.0.1", 8080, "")
    assert _split_master("http://127.0.0.1:8080/") == ("http", "127.0.0.1", 8080, "")
    assert _split_master("https://pypi.test") == ("https", "pypi.test", None, "")
    assert _split_master("https://pypi.test/") == ("https", "pypi.test", None, "")
    assert _split_master("http://h:81/base/path/") == ("http", "h", 81, "/base/path")
    assert _split_master("http://h/base") == ("http", "h", None, "/base")
    assert _split_master("http://[::1]:8080/x/") == ("http", "::1", 8080, "/x")
    assert _split_master("http://[::1]") == ("http", "::1", None, "")
    assert _split_master("http://[fe80::1]/") == ("http", "fe80::1", None, "")
    assert _split_master("http://user:pw@h:82/p") == ("http", "h", 82, "/p")
    assert _split_master("http://h:/p") == ("http", "h", None, "/p")
    for bad in ("ftp://h/", "h:80", "//h/", "", "http:/h"):
        with pytest.raises(ValueError):
            _split_master(bad)
    with pytest.raises(ValueError):
        _split_master("http://h:port/")


def test_fast_path_against_master_with_path_and_trailing_slash(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    """A master written with a trailing slash is answered by the fast path at the same /pypi URL."""
    fp = fakepypi
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url + "/")
    assert run_timed("-c", str(conf), "mirror").returncode == ExitCode.OK
    fp.clear_log()
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.OK, run.stderr
    assert run.fast
    assert [(r["method"], r["path"]) for r in fp.requests()] == [("POST", "/pypi")]


def test_closed_port_after_sync_exit_5(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    """Same with a port nobody listens on (the record names the old master: config edited)."""
    conf, directory = synced(tmp_path, fakepypi)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    write_config(conf, directory, f"http://127.0.0.1:{port}")
    run = run_timed("-c", str(conf), "mirror")
    assert run.returncode == ExitCode.UNREACHABLE, run.stderr
    assert "Traceback" not in run.raw_stderr
