"""Root on a tree owned by another user: both commands refuse with one line naming that user and
the command to run instead (exit 2, nothing touched), unless `--allow-root`. Root on a root-owned
or not yet existing tree runs."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from mirror_tool.exitcodes import ExitCode
from tests.support.mirror_env import run_cli
from tests.test_wrapper_support import WRAPPER_TIMEOUT, wrapper_command, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs as root")


def run_wrapper_args(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    return subprocess.run(wrapper_command() + list(args), capture_output=True, text=True, env=env, timeout=WRAPPER_TIMEOUT)


def everything_below(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_root_refuses_a_tree_that_belongs_to_another_user(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    nobody = pwd.getpwnam("nobody")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    os.chown(mirror, nobody.pw_uid, nobody.pw_gid)
    logs = tmp_path / "log"
    config = write_config(tmp_path / "m.conf", mirror, fakepypi.base_url, mirror={"log-file": str(logs / "mirror.log")},
                          wrapper={"log-file": str(logs / "wrapper.log")})

    for args in (("mirror",), ("sync", "Foo.Bar"), ("delete", "Foo.Bar"), ("verify",), ("verify", "--delete")):
        res = run_cli("-c", str(config), *args)
        assert res.returncode == ExitCode.CONFIG, (args, res.stderr)
        lines = res.stderr.splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("pypi-mirror: refusing to run as root: ")
        assert f"run as nobody: sudo -u nobody pypi-mirror -c {config} {' '.join(args)} (or add --allow-root)" in lines[0]
    res = run_wrapper_args("-c", str(config))
    assert res.returncode == ExitCode.CONFIG
    assert res.stdout == "" and len(res.stderr.splitlines()) == 1
    assert f"run as nobody: sudo -u nobody {wrapper_command()[0]} -c {config} (or add --allow-root)" in res.stderr
    assert everything_below(mirror) == [] and not logs.exists() and fakepypi.requests() == []

    # `status` writes nothing (not even its log file): it answers.
    res = run_cli("-c", str(config), "status")
    assert res.returncode == 0 and "never synced" in res.stdout
    assert everything_below(mirror) == [] and not logs.exists()
    # The operator insists.
    res = run_cli("-c", str(config), "--allow-root", "mirror")
    assert res.returncode == 0, res.stderr
    assert run_wrapper_args("-c", str(config), "--allow-root").returncode == 0


def test_root_on_a_root_owned_or_new_tree_runs(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    mirror = tmp_path / "new" / "mirror"
    config = write_config(tmp_path / "m.conf", mirror, fakepypi.base_url)
    res = run_cli("-c", str(config), "mirror")
    assert res.returncode == 0, res.stderr
    assert mirror.stat().st_uid == 0
    assert run_wrapper_args("-c", str(config)).returncode == 0
