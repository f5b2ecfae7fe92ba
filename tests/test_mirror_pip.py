"""The real pip against the mirror tree served by a real nginx running the role's vhost."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import requests

from mirror_tool.exitcodes import ExitCode
from mirror_tool.engine.run import run_mirror
from tests.support.mirror_env import cli_env, make_config
from tests.support.nginx import nginx_factory  # noqa: F401  (pytest fixture)
from tests.support.upstream_compare import assert_mirror_matches


def pip(index_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env()
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    cmd = [sys.executable, "-m", "pip", *args, "--index-url", index_url, "--isolated", "--no-cache-dir",
           "--disable-pip-version-check", "--retries", "0", "--timeout", "10", "-v"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def test_pip_download_and_install_through_nginx(tmp_path: Path, fakepypi, nginx_factory: Any) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    assert_mirror_matches(fp, cfg.directory)
    server = nginx_factory(cfg.directory / "web")
    index = server.base_url + "/simple/"

    # PEP 691 negotiation through the vhost
    as_json = requests.get(index + "foo-bar/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=10)
    assert as_json.status_code == 200
    assert as_json.headers["Content-Type"].startswith("application/vnd.pypi.simple.v1+json")
    assert as_json.json()["name"] == "foo-bar"
    as_html = requests.get(index + "foo-bar/", timeout=10)
    assert as_html.headers["Content-Type"].startswith("text/html") and "Links for Foo.Bar" in as_html.text
    root = requests.get(index, headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=10).json()
    assert "Foo.Bar" in {p["name"] for p in root["projects"]}
    assert requests.get(server.base_url + "/status", timeout=10).status_code == 404  # state is not served

    # download: latest version, yanked skipped unless pinned, requires-python honoured
    dl = tmp_path / "dl"
    res = pip(index, "download", "--no-deps", "--only-binary", ":all:", "-d", str(dl), "Foo.Bar", "Yanked-Pkg", "Needs_Py")
    assert res.returncode == 0, res.stdout + res.stderr
    got = sorted(p.name for p in dl.iterdir())
    assert got == ["foo_bar-1.2.0-py3-none-any.whl", "needs_py-1.2.0-py3-none-any.whl", "yanked_pkg-1.2.0-py3-none-any.whl"], got
    res = pip(index, "download", "--no-deps", "-d", str(dl), "yanked-pkg==9.0.0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (dl / "yanked_pkg-9.0.0-py3-none-any.whl").exists()
    assert "yanked" in (res.stdout + res.stderr).lower() and "broken build" in res.stdout + res.stderr
    for wheel in dl.glob("*.whl"):
        assert zipfile.ZipFile(wheel).testzip() is None
    # the .metadata siblings were used (PEP 658/714)
    access = server.access_log.read_text()
    assert ".whl.metadata" in access
    pip_lines = [line for line in access.splitlines() if "python-requests" not in line]
    assert pip_lines and not [line for line in pip_lines if '" 200 ' not in line], pip_lines

    # install into a target directory
    target = tmp_path / "target"
    res = pip(index, "install", "--no-deps", "--target", str(target), "foo_bar_baz", "Pre.Release")
    assert res.returncode == 0, res.stdout + res.stderr
    dist_infos = sorted(p.name for p in target.glob("*.dist-info"))
    assert dist_infos == ["foo_bar_baz-1.2.0.dist-info", "pre_release-1.2.0.dist-info"], dist_infos

    # after an upload and an incremental sync pip sees the new version
    fp.upload("Foo.Bar", "3.0")
    assert run_mirror(cfg).exit_code == ExitCode.OK
    res = pip(index, "download", "--no-deps", "-d", str(tmp_path / "dl2"), "foo.bar")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "dl2" / "foo_bar-3.0-py3-none-any.whl").exists()
