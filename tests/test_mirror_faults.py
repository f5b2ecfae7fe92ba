"""Stale CDN pages, upstream faults, hostile names, full disks and clean stops."""

from __future__ import annotations

import json
import os
import resource
import signal
import threading
import time
from pathlib import Path

import pytest

from mirror_tool.exitcodes import ExitCode
from mirror_tool.engine.run import run_mirror, run_sync
from mirror_tool.stop import StopToken
from tests.support.evil_upstream import EvilUpstream
from tests.support.mirror_env import make_config, run_cli, write_config
from tests.support.tree_check import assert_tree_consistent, files_on_disk
from tests.support.upstream_compare import assert_mirror_matches

#: Seconds each file takes in the stop tests: a project's files download at once, so only files
#: that outlast a sub-second stop or limit guarantee it meets work in flight.
SLOW_FILE = 2.0


def test_stale_page_that_recovers(tmp_path: Path, fakepypi, caplog) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    old = fp.project("Foo.Bar")["last_serial"]
    fp.upload("Foo.Bar", "3.0")
    fp.serve_stale_for("Foo.Bar", 2, serial=old)
    caplog.set_level("INFO")
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.OK, result
    assert f"Stale serial for package foo-bar: expected {fp.last_serial}, got {old}" in caplog.text
    assert_mirror_matches(fp, cfg.directory)
    assert json.loads((cfg.directory / "stale.json").read_text())["projects"] == {}


def test_stale_page_that_never_recovers(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    old = fp.project("Foo.Bar")["last_serial"]
    fp.upload("Needs_Py", "9.0")
    mirror_serial = fp.last_serial  # every change up to here can be mirrored
    fp.upload("Foo.Bar", "3.0")
    expected = fp.last_serial
    fp.pin_stale("Foo.Bar", old)
    fp.upload("Pre.Release", "9.0")  # a change after the stale one is synced too
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.STALE
    assert result.stale == ["foo-bar"] and set(result.synced) == {"needs-py", "pre-release"}
    d = cfg.directory
    stale = json.loads((d / "stale.json").read_text())["projects"]
    entry = stale["foo-bar"]
    assert entry["name"] == "Foo.Bar" and entry["expected_serial"] == expected and entry["served_serial"] == old
    assert "/pypi/foo-bar/json" in entry["urls"] and all(u.startswith("/") for u in entry["urls"])
    # the recorded serial never moves past the change that is not on disk
    status = int((d / "status").read_text())
    assert status == mirror_serial < expected  # just below the first change not on disk
    assert json.loads((d / "todo").read_text())["projects"] == {"foo-bar": expected}
    report = assert_tree_consistent(d)
    assert report.projects["foo-bar"].serial == old  # the old page is still served, consistent
    assert report.projects["needs-py"].serial == mirror_serial  # the other projects are synced
    assert report.projects["pre-release"].serial == fp.last_serial
    first_seen = entry["first_seen"]
    # still stale on the next run: same entry, first_seen kept, CLI exit 3 and status lists it
    res = run_cli("-c", str(cfg.path), "mirror")
    assert res.returncode == ExitCode.STALE, res.stderr
    assert "Stale serial for package foo-bar" in res.stderr
    again = json.loads((d / "stale.json").read_text())["projects"]["foo-bar"]
    assert again["first_seen"] == first_seen
    report_json = json.loads(run_cli("-c", str(cfg.path), "status", "--json").stdout)
    assert report_json["todo"] == 1 and "foo-bar" in report_json["stale"]
    assert report_json["mirror_serial"] == status
    # the CDN recovers (PURGE / TTL): a targeted sync fixes it and the serial catches up
    fp.unpin("Foo.Bar")
    result = run_sync(cfg, ["Foo.Bar"])
    assert result.exit_code == ExitCode.OK and result.synced == ["foo-bar"]
    assert_mirror_matches(fp, d)
    assert not (d / "todo").exists()
    assert json.loads((d / "stale.json").read_text())["projects"] == {}


def test_run_sync_checks_the_promised_serial(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    """`sync NAME` on a still-stale project stays stale (exit 3) and keeps it queued."""
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, stale_retries=1)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    old = fp.last_serial
    fp.upload("Foo.Bar", "3.0")
    fp.pin_stale("Foo.Bar", old)
    assert run_mirror(cfg).exit_code == ExitCode.STALE
    result = run_sync(cfg, ["foo.bar"])
    assert result.exit_code == ExitCode.STALE and result.stale == ["foo-bar"]
    assert (cfg.directory / "todo").exists()


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("status", {"prefix": "/packages/", "status": 503, "count": 4}),
        ("status", {"regex": "^/pypi/", "status": 500, "count": 2}),
        ("status", {"path": "/pypi", "status": 502, "count": 1}),
        ("cut", {"prefix": "/packages/", "count": 4}),
        ("bad_hash", {"prefix": "/packages/", "count": 4}),
    ],
)
def test_transient_faults_are_retried(tmp_path: Path, fakepypi, kind: str, kwargs: dict) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, retries=3)
    fp.add_fault(kind, **kwargs)
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.OK, result
    assert fp.list_faults() == []  # every injected fault fired
    assert_mirror_matches(fp, cfg.directory)
    assert list((cfg.directory / "tmp").iterdir()) == []


@pytest.mark.parametrize("kind", ["bad_hash", "cut", "status"])
def test_persistent_fault_fails_the_project_and_publishes_nothing(tmp_path: Path, fakepypi, kind: str) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, retries=1)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    before_serial = fp.last_serial
    fp.upload("Foo.Bar", "3.0")
    bad_serial = fp.last_serial
    fp.upload("Needs_Py", "9.0")
    fp.add_fault(kind, regex=r"/foo_bar-3\.0-py3-none-any\.whl$")
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.FAILED
    assert list(result.failed) == ["foo-bar"] and "needs-py" in result.synced
    d = cfg.directory
    report = assert_tree_consistent(d)
    assert not any("3.0" in name for name in report.projects["foo-bar"].files)
    assert not any(p.endswith("foo_bar-3.0-py3-none-any.whl") for p in files_on_disk(d))
    assert list((d / "tmp").iterdir()) == []
    assert before_serial <= int((d / "status").read_text()) < bad_serial
    state = json.loads((d / "state.json").read_text())
    assert "foo-bar" in state["failing"]
    text = run_cli("-c", str(cfg.path), "status").stdout
    assert "failing:          1 projects" in text and "foo-bar" in text
    fp.clear_faults()
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.OK and result.synced == ["foo-bar"]
    assert_mirror_matches(fp, d)
    assert json.loads((d / "state.json").read_text())["failing"] == {}


def test_stop_on_error_stops_at_the_first_failure(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, stop_on_error=True, workers=1, retries=0)
    fp.add_fault("status", regex="^/pypi/(dup-name|foo-bar)/json", status=500)
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.FAILED
    assert list(result.failed) == ["dup-name"]  # alphabetical order, one worker
    assert len(result.synced) < 7
    todo = json.loads((cfg.directory / "todo").read_text())["projects"]
    assert "dup-name" in todo and "foo-bar" in todo
    assert_tree_consistent(cfg.directory)


def test_path_traversal_is_refused(tmp_path: Path) -> None:
    evil = EvilUpstream().start()
    try:
        good_sha = evil.add_file("/packages/aa/bb/" + "c" * 60 + "/good-1.0.tar.gz", b"good bytes")
        bad_sha = evil.add_file("/evil", b"owned")

        def entry(filename: str, url: str, sha: str, b2: str | None = None) -> dict:
            digests = {"sha256": sha}
            if b2 is not None:
                digests["blake2b_256"] = b2
            return {"filename": filename, "url": url, "digests": digests, "size": None, "yanked": False}

        files = [
            entry("good-1.0.tar.gz", evil.base_url + "/packages/aa/bb/" + "c" * 60 + "/good-1.0.tar.gz", good_sha),
            entry("../../../escape.tar.gz", evil.base_url + "/evil", bad_sha, "d" * 64),
            entry("/etc/absolute.tar.gz", evil.base_url + "/evil", bad_sha, "d" * 64),
            entry("sub/dir.tar.gz", evil.base_url + "/evil", bad_sha, "d" * 64),
            entry("nul\x00.tar.gz", evil.base_url + "/evil", bad_sha, "d" * 64),
            entry("..", evil.base_url + "/evil", bad_sha, "d" * 64),
            entry("b2-escape.tar.gz", evil.base_url + "/evil", bad_sha, "../../../../" + "e" * 52),
            entry("no-b2.tar.gz", evil.base_url + "/packages/../../../evil", bad_sha),
            entry("file-url.tar.gz", "file:///etc/passwd", bad_sha, "f" * 64),
        ]
        evil.add_project("good", 10, files)
        evil.changelog.append(["../etc", "1", 0, "new release", 11])
        evil.changelog.append(["a/b", "1", 0, "new release", 12])
        evil.changelog.append(["/abs", "1", 0, "new release", 13])
        cfg = make_config(tmp_path, evil.base_url)
        res = run_cli("-c", str(cfg.path), "mirror")
        assert res.returncode == ExitCode.OK, res.stderr
        for needle in ("escape.tar.gz", "absolute.tar.gz", "sub/dir.tar.gz", "b2-escape", "no-b2", "file:///etc/passwd", "'../etc'", "'a/b'"):
            assert needle in res.stderr, needle
        assert "refused" in res.stderr
        d = cfg.directory
        report = assert_tree_consistent(d)
        assert report.projects["good"].files == {"good-1.0.tar.gz": good_sha}
        assert set(report.projects) == {"good"}
        assert files_on_disk(d) == {"packages/aa/bb/" + "c" * 60 + "/good-1.0.tar.gz"}
        # nothing anywhere in or beside the mirror holds the evil bytes
        for p in tmp_path.rglob("*"):
            if p.is_file():
                assert b"owned" not in p.read_bytes(), p
        assert not [r for r in evil.requests if r == "/evil"]
        assert not any("etc" in r for r in evil.requests if r.startswith("/pypi/"))
    finally:
        evil.stop()


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))


def test_storage_error_exits_7_with_nothing_half_published(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    fp.upload("Foo.Bar", "3.0", file_size=60_000)  # larger than the file size limit below
    res = run_cli("-c", str(cfg.path), "mirror", preexec_fn=_limit_file_size)
    assert res.returncode == ExitCode.STORAGE, res.stderr
    errors = [line for line in res.stderr.splitlines() if "ERROR" in line or line.startswith("pypi-mirror:")]
    assert errors and "File too large" in errors[0]
    d = cfg.directory
    report = assert_tree_consistent(d)
    assert not any("3.0" in n for n in report.projects["foo-bar"].files)
    assert list((d / "tmp").iterdir()) == []
    assert (d / "todo").exists()
    res = run_cli("-c", str(cfg.path), "mirror")
    assert res.returncode == ExitCode.OK, res.stderr
    assert_mirror_matches(fp, d)


def test_deadline_stops_cleanly_and_the_next_run_resumes(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, workers=2)
    fp.add_fault("latency", prefix="/packages/", latency=SLOW_FILE)
    result = run_mirror(cfg, stop=StopToken(time.monotonic() + 0.6))
    assert result.exit_code == ExitCode.TIMEOUT
    assert len(result.synced) < 8
    assert_tree_consistent(cfg.directory)
    assert (cfg.directory / "todo").exists()
    fp.clear_faults()
    assert run_mirror(cfg).exit_code == ExitCode.OK
    assert_mirror_matches(fp, cfg.directory)


@pytest.mark.parametrize("code", [ExitCode.TERMINATED, ExitCode.INTERRUPTED])
def test_signal_stop_token(tmp_path: Path, fakepypi, code: ExitCode) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, workers=1)
    fp.add_fault("latency", prefix="/packages/", latency=SLOW_FILE)
    token = StopToken()
    threading.Timer(0.4, token.set, args=(code,)).start()
    result = run_mirror(cfg, stop=token)
    assert result.exit_code == code
    assert_tree_consistent(cfg.directory)
    fp.clear_faults()
    assert run_mirror(cfg).exit_code == ExitCode.OK
    assert_mirror_matches(fp, cfg.directory)


def test_sigterm_to_the_cli_exits_143(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    from tests.support.mirror_env import popen_cli

    fp = fakepypi
    fp.add_fault("latency", prefix="/packages/", latency=SLOW_FILE)
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", fp.base_url, workers=1)
    proc = popen_cli("-c", str(conf), "mirror")
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Syncing package" in line:
            break
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.TERMINATED, err
    assert_tree_consistent(tmp_path / "mirror")


def test_global_timeout_exits_6(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    fp.add_fault("latency", prefix="/packages/", latency=SLOW_FILE)
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", fp.base_url, workers=1, global_timeout=0.5)
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.TIMEOUT, res.stderr
    assert_tree_consistent(tmp_path / "mirror")


def test_unreachable_upstream_keeps_the_queued_work(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, retries=0)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    old = fp.project("Foo.Bar")["last_serial"]
    fp.upload("Foo.Bar", "3.0")
    fp.pin_stale("Foo.Bar", old)
    assert run_mirror(cfg).exit_code == ExitCode.STALE
    d = cfg.directory
    status = (d / "status").read_text()
    todo = (d / "todo").read_text()
    fp.stop()
    result = run_mirror(cfg)
    assert result.exit_code == ExitCode.UNREACHABLE
    assert (d / "status").read_text() == status and (d / "todo").read_text() == todo
    assert "foo-bar" in json.loads((d / "stale.json").read_text())["projects"]
    assert_tree_consistent(d)


def test_file_redirects_are_followed_and_verified(tmp_path: Path) -> None:
    evil = EvilUpstream().start()
    try:
        path = "/packages/aa/bb/" + "c" * 60 + "/moved-1.0.tar.gz"
        sha = evil.add_file("/real/moved-1.0.tar.gz", b"moved bytes")
        evil.routes[path] = (302, {"Location": "/real/moved-1.0.tar.gz"}, b"")
        loop = "/packages/aa/bb/" + "d" * 60 + "/loop-1.0.tar.gz"
        evil.routes[loop] = (302, {"Location": loop}, b"")
        files = [
            {"filename": "moved-1.0.tar.gz", "url": evil.base_url + path, "digests": {"sha256": sha}, "size": 11},
        ]
        evil.add_project("moved", 5, files)
        evil.add_project("loop", 6, [
            {"filename": "loop-1.0.tar.gz", "url": evil.base_url + loop, "digests": {"sha256": sha}, "size": 11},
        ])
        cfg = make_config(tmp_path, evil.base_url, retries=0)
        result = run_mirror(cfg)
        assert result.exit_code == ExitCode.FAILED and list(result.failed) == ["loop"]
        assert "more than 5 redirects" in result.failed["loop"]
        report = assert_tree_consistent(cfg.directory)
        assert report.projects["moved"].files == {"moved-1.0.tar.gz": sha}
        assert "loop" not in report.projects
    finally:
        evil.stop()
