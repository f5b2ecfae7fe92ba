"""The role's preflight refuses settings that would weaken a host (issue 13, items 14 and 16).

Each case runs only the preflight tag of playbooks/site.yml on this controller, read-only (see
tests/test_role_static.py: `preflight`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_role_static import preflight

HTTP, HTTPS = "http://upstream.example", "https://upstream.example"
PLAIN_HTTP_KEY = "pypi_mirror_purge_key is set but PURGEs go to"


@pytest.mark.parametrize(
    ("settings", "target"),
    [
        ({"pypi_mirror_master": HTTP}, HTTP),
        ({"pypi_mirror_master": HTTPS, "pypi_mirror_purge_url": "http://cdn.example"}, "http://cdn.example"),
    ],
    ids=["http-master", "http-purge-url"],
)
def test_purge_key_over_plain_http_is_refused(tmp_path: Path, settings: dict[str, str], target: str) -> None:
    result = preflight(tmp_path, pypi_mirror_purge_key="s3cret", **settings)
    assert result.returncode != 0
    lines = [line for line in result.stdout.splitlines() if PLAIN_HTTP_KEY in line]
    assert lines, result.stdout
    assert f"PURGEs go to {target} over plain http, where the key would travel in clear text" in lines[0]
    assert "s3cret" not in result.stdout + result.stderr, "the key itself must never be shown"


@pytest.mark.parametrize(
    "settings",
    [
        {"pypi_mirror_master": HTTP, "pypi_mirror_purge_url": "https://cdn.example"},
        {"pypi_mirror_master": HTTP, "pypi_mirror_purge": "off"},
        {"pypi_mirror_master": "http://127.0.0.1:8080"},
    ],
    ids=["https-purge-url", "purge-off", "loopback"],
)
def test_purge_key_passes_where_it_never_crosses_a_network_in_clear(tmp_path: Path, settings: dict[str, str]) -> None:
    """The tool's own rule: an https PURGE target, PURGE off, or this host's loopback."""
    result = preflight(tmp_path, pypi_mirror_purge_key="s3cret", **settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert PLAIN_HTTP_KEY not in result.stdout


@pytest.mark.parametrize("run_dir", ["/run/lock/", "/tmp"])
def test_shared_lock_directory_is_refused(tmp_path: Path, run_dir: str) -> None:
    result = preflight(tmp_path, pypi_mirror_master=HTTPS, pypi_mirror_run_dir=run_dir)
    assert result.returncode != 0
    assert "pypi_mirror_run_dir must be an absolute directory of its own, e.g. /run/pypi-mirror" in result.stdout
