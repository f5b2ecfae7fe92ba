"""Helpers to configure and run the mirror client in tests (in-process and as a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mirror_tool.config import Config, load_config

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Fast but realistic settings for tests: no long backoffs.
TEST_DEFAULTS = {"stale-backoff": "0.01", "timeout": "5", "retries": "2"}


#: `[mirror]` keys bandersnatch spells with underscores.
UNDERSCORE_KEYS = frozenset({"root_uri", "digest_name", "keep_index_versions", "delete_missing_packages", "cleanup_todo"})


def write_config(path: Path, directory: Path, master: str, *, extra: str = "", **mirror: Any) -> Path:
    """Write a config file: `[mirror]` keys from `mirror` (underscores become dashes except in
    bandersnatch's underscore names), plus raw `extra` text (other sections)."""
    keys = {**TEST_DEFAULTS, "directory": str(directory), "master": master}
    for key, value in mirror.items():
        name = key if key in UNDERSCORE_KEYS else key.replace("_", "-")
        keys[name] = str(value).lower() if isinstance(value, bool) else str(value)
    lines = ["[mirror]"] + [f"{k} = {v}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def make_config(tmp_path: Path, master: str, *, name: str = "mirror", extra: str = "", **mirror: Any) -> Config:
    """Config for a mirror in `tmp_path/<name>`; the file is `tmp_path/<name>.conf`."""
    conf = write_config(tmp_path / f"{name}.conf", tmp_path / name, master, extra=extra, **mirror)
    return load_config(conf)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("http_proxy", None)
    env.pop("https_proxy", None)
    return env


def run_cli(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`python -m mirror_tool ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "mirror_tool", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        **kwargs,
    )


def popen_cli(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mirror_tool", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        **kwargs,
    )
