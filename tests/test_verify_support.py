"""Helpers shared by the verify / delete / filter integration tests (no tests here).

A `MirrorEnv` is one mirror directory plus its config file, driven through the real
`pypi-mirror` command line in a subprocess, against a running `tests/fakepypi` upstream.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakepypi.server import FakePyPI


def _clean_env() -> dict[str, str]:
    """No proxies, no pip config: every request goes to 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("PIP_")}
    env["NO_PROXY"] = env["no_proxy"] = "*"
    return env


class MirrorEnv:
    """A mirror below `tmp/mirror` configured by `tmp/mirror.conf` for `upstream`."""

    def __init__(self, tmp: Path, upstream: FakePyPI | str, **mirror_keys: Any) -> None:
        self.tmp = tmp
        self.root = tmp / "mirror"
        self.web = self.root / "web"
        self.conf = tmp / "mirror.conf"
        self.master = upstream if isinstance(upstream, str) else upstream.base_url
        self.mirror_keys: dict[str, Any] = {"verifiers": 3, "workers": 4, **mirror_keys}
        self.configure()

    def configure(self, filters: str = "", **mirror_keys: Any) -> None:
        """(Re)write the config: `[mirror]` keys plus raw filter sections."""
        self.mirror_keys.update(mirror_keys)
        lines = ["[mirror]", f"directory = {self.root}", f"master = {self.master}"]
        for key, value in self.mirror_keys.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            lines.append(f"{key.replace('_', '-') if key != 'root_uri' else key} = {value}")
        self.conf.write_text("\n".join(lines) + "\n" + filters)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "mirror_tool", "-c", str(self.conf), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(), timeout=timeout)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def verify_json(self, *flags: str, expect: int | None = None) -> dict[str, Any]:
        result = self.run("verify", "--json", *flags)
        doc = json.loads(result.stdout)
        assert doc["exit_code"] == result.returncode
        if expect is not None:
            assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return doc

    # -- looking at the tree ------------------------------------------------------------------

    def page_files(self, norm: str) -> dict[str, dict[str, Any]]:
        """filename -> PEP 691 file dict of a project's JSON page."""
        doc = json.loads((self.web / "simple" / norm / "index.v1_json").read_bytes())
        return {f["filename"]: f for f in doc["files"]}

    def local_path(self, norm: str, filename: str) -> Path:
        url = self.page_files(norm)[filename]["url"]
        assert url.startswith("../../"), url
        return self.web / url[len("../../"):]

    def package_files(self) -> dict[str, int]:
        """Every file below packages/ -> size."""
        base = self.web / "packages"
        if not base.exists():
            return {}
        return {str(p.relative_to(self.web)): p.stat().st_size for p in base.rglob("*") if p.is_file()}

    def root_projects(self) -> set[str]:
        doc = json.loads((self.web / "simple" / "index.v1_json").read_bytes())
        return {p["name"].lower().replace("_", "-").replace(".", "-") for p in doc["projects"]}


def pip_install(index_url: str, target: Path, *requirements: str) -> subprocess.CompletedProcess[str]:
    """The real pip, installing from the mirror only (no cache, no config, no deps)."""
    cmd = [
        sys.executable, "-m", "pip", "install", "--isolated", "--no-cache-dir", "--disable-pip-version-check",
        "--no-deps", "--index-url", index_url, "--target", str(target), *requirements,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(), timeout=180)


def build_template_tree(directory: Path, **mirror_keys: Any) -> Path:
    """A mirror of the default fakepypi corpus, synced once per module and copied per test.

    The corpus is deterministic (same files, hashes and serials for every server), so a copy is
    exactly what a fresh sync against the test's own server would produce, without its cost.
    """
    upstream = FakePyPI().start()
    try:
        env = MirrorEnv(directory, upstream, **mirror_keys)
        env.ok("mirror")
    finally:
        upstream.stop()
    return env.root


def copy_of(template: Path, tmp: Path, upstream: FakePyPI, **mirror_keys: Any) -> MirrorEnv:
    env = MirrorEnv(tmp, upstream, **mirror_keys)
    shutil.copytree(template, env.root, symlinks=True)
    return env


# Fixtures shared by test_verify.py and test_delete.py (imported there by name).
@pytest.fixture(scope="module")
def template_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template_tree(tmp_path_factory.mktemp("template"), json=True)


@pytest.fixture
def synced(template_tree: Path, fakepypi: FakePyPI, tmp_path: Path) -> MirrorEnv:
    """A synced mirror of `fakepypi` (a copy of the module's template sync)."""
    return copy_of(template_tree, tmp_path, fakepypi, json=True)
