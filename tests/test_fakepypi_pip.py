"""The real pip against the fake upstream: downloads, PEP 658 metadata, yanked handling, installs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakepypi import FakePyPI

PIP_JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


def _pip_env() -> dict[str, str]:
    """Environment without proxies or pip config, so pip only ever talks to 127.0.0.1."""
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and not k.startswith("PIP_")}
    env["NO_PROXY"] = env["no_proxy"] = "*"
    return env


def pip(server: FakePyPI, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", *args[:1], "--isolated", "--no-cache-dir", "--disable-pip-version-check",
           "--index-url", server.index_url, *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, env=_pip_env(), timeout=120)


def _downloaded(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


@pytest.fixture(autouse=True, scope="module")
def _needs_pip() -> None:
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        pytest.fail("pip is required for these tests (run them from the project venv)")


def test_pip_download_json_negotiation_metadata_and_yanked(fakepypi: FakePyPI, tmp_path: Path) -> None:
    out = tmp_path / "dl"
    result = pip(fakepypi, "download", "--no-deps", "-d", str(out),
                 "Foo.Bar", "foo_bar-baz", "Yanked-Pkg", "Pre.Release", "Needs_Py", "Plat_Wheels", "dup.name")
    assert result.returncode == 0, result.stderr
    files = _downloaded(out)
    assert "foo_bar-1.2.0-py3-none-any.whl" in files
    assert "foo_bar_baz-1.2.0-py3-none-any.whl" in files
    assert "yanked_pkg-1.2.0-py3-none-any.whl" in files  # 9.0.0 is yanked: skipped
    assert "pre_release-1.2.0-py3-none-any.whl" in files  # 2.0.0rc1 is a prerelease: skipped
    assert "needs_py-1.2.0-py3-none-any.whl" in files  # 5.0.0 requires <3: skipped
    assert "dup_name-2.2.0-py3-none-any.whl" in files
    assert any(f.startswith("plat_wheels-1.2.0-") and f.endswith(".whl") for f in files)
    for name in files:  # pip verified #sha256; check the bytes are exactly ours too
        if not name.startswith("plat_wheels"):
            assert (out / name).read_bytes() == fakepypi.file_bytes(name)

    log = fakepypi.requests()
    simple = [r for r in log if r["path"].startswith("/simple/")]
    assert simple and all(PIP_JSON_ACCEPT in (r["accept"] or "") for r in simple)
    assert any(r["path"] == "/simple/foo-bar/" and r["status"] == 200 for r in simple)
    # non-normalized requirement names are redirected, pip follows
    assert any(r["path"] == "/simple/foo-bar-baz/" for r in simple)
    metadata = [r for r in log if r["path"].endswith(".metadata")]
    assert any(r["status"] == 200 and r["path"].endswith("foo_bar-1.2.0-py3-none-any.whl.metadata")
               for r in metadata)


def test_pip_download_yanked_when_pinned_exactly(fakepypi: FakePyPI, tmp_path: Path) -> None:
    out = tmp_path / "dl"
    result = pip(fakepypi, "download", "--no-deps", "-d", str(out), "Yanked-Pkg==9.0.0")
    assert result.returncode == 0, result.stderr
    assert _downloaded(out) == {"yanked_pkg-9.0.0-py3-none-any.whl"}
    assert "broken build" in result.stderr + result.stdout  # pip warns with the yank reason


def test_pip_download_from_html_only_upstream(fakepypi_factory, tmp_path: Path) -> None:
    server = fakepypi_factory(simple_json=False)
    out = tmp_path / "dl"
    result = pip(server, "download", "--no-deps", "-d", str(out), "Foo.Bar", "Needs_Py", "Yanked-Pkg")
    assert result.returncode == 0, result.stderr
    assert _downloaded(out) == {"foo_bar-1.2.0-py3-none-any.whl", "needs_py-1.2.0-py3-none-any.whl",
                                "yanked_pkg-1.2.0-py3-none-any.whl"}
    assert any(r["path"].endswith(".metadata") and r["status"] == 200 for r in server.requests())


def test_pip_install_wheel_is_importable(fakepypi: FakePyPI, tmp_path: Path) -> None:
    target = tmp_path / "site"
    result = pip(fakepypi, "install", "--no-deps", "--target", str(target), "Foo.Bar==1.1.0")
    assert result.returncode == 0, result.stderr
    probe = subprocess.run([sys.executable, "-c", "import foo_bar; print(foo_bar.__version__)"],
                           capture_output=True, text=True, env={**_pip_env(), "PYTHONPATH": str(target)})
    assert probe.stdout.strip() == "1.1.0", probe.stderr
    assert (target / "foo_bar-1.1.0.dist-info" / "RECORD").is_file()
