"""`pypi-mirror check-config PATH`, run as the real command (the role's `validate:` runs exactly this)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mirror_tool.config import EXAMPLE_CONFIG

PYPI_MIRROR = str(Path(sys.executable).parent / "pypi-mirror")


def check(path: Path, *global_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYPI_MIRROR, *global_args, "check-config", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)


def write(tmp_path: Path, text: str) -> Path:
    conf = tmp_path / "pypi-mirror.conf"
    conf.write_text(text)
    return conf


def test_a_valid_config_passes_silently_and_touches_nothing(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    conf = write(tmp_path, f"[mirror]\ndirectory = {mirror}\nmaster = http://127.0.0.1:9\n"
                           f"log-file = {tmp_path / 'logs' / 'mirror.log'}\n")
    result = check(conf)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pypi-mirror.conf"]


def test_the_shipped_example_passes() -> None:
    result = check(EXAMPLE_CONFIG)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:9\nworkers = 65\n",
         "pypi-mirror: config error: [mirror] workers: must be an integer in 1..64, got 65"),
        ("[mirror]\ndirectory = /srv/m\n", "pypi-mirror: config error: [mirror] master: missing (required)"),
        ("[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:9\n[wrapper]\nsurprise = 1\n",
         "pypi-mirror: config error: [wrapper] surprise: unknown key"),
        ("directory = /x\n", "pypi-mirror: config error: line 1: text before the first [section] header"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path, text: str, line: str) -> None:
    result = check(write(tmp_path, text))
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")


def test_a_missing_file_is_an_error_and_no_example_is_written(tmp_path: Path) -> None:
    missing = tmp_path / "etc" / "pypi-mirror.conf"
    result = check(missing)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"pypi-mirror: config error: {missing}: no such file\n"
    assert not missing.parent.exists()


def test_the_global_config_option_is_not_consulted(tmp_path: Path) -> None:
    """`-c` names the config of the other commands; check-config judges its own PATH only."""
    good = write(tmp_path, "[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:9\n")
    missing = tmp_path / "absent.conf"
    result = check(good, "-c", str(missing))
    assert result.returncode == 0, result.stderr
    assert not missing.exists()


def test_a_directory_is_an_error(tmp_path: Path) -> None:
    result = check(tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"pypi-mirror: config error: {tmp_path} is a directory, not a config file\n"


# --- issue 13 item 16: a Fastly-Key is never sent over plain http --------------------------------

KEYED = "[mirror]\ndirectory = /srv/m\nmaster = {master}\n[wrapper]\npurge-key-file = /etc/key\n"


@pytest.mark.parametrize(
    ("master", "wrapper_extra", "target"),
    [
        ("http://upstream.example", "", "http://upstream.example ([mirror] master)"),
        ("https://upstream.example", "purge-url = http://cdn.example\n", "http://cdn.example (purge-url)"),
        ("https://upstream.example", "purge-url = http://10.0.0.5:8080/\n", "http://10.0.0.5:8080 (purge-url)"),
    ],
)
def test_a_purge_key_with_a_plain_http_target_is_refused(tmp_path: Path, master: str, wrapper_extra: str,
                                                          target: str) -> None:
    result = check(write(tmp_path, KEYED.format(master=master) + wrapper_extra))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("pypi-mirror: config error: [wrapper] purge-key-file: a Fastly-Key is never sent "
                               "over plain http"), lines[0]
    assert target in lines[0]


@pytest.mark.parametrize(
    ("master", "wrapper_extra"),
    [
        ("https://upstream.example", ""),  # https master
        ("http://upstream.example", "purge-url = https://cdn.example\n"),  # https PURGE target
        ("http://upstream.example", "purge = off\n"),  # the key is never sent
        ("http://127.0.0.1:8080", ""),  # loopback: the key does not leave the host
        ("http://localhost:8080", ""),
        ("http://[::1]:8080", ""),
    ],
)
def test_a_purge_key_is_accepted_where_it_cannot_leak(tmp_path: Path, master: str, wrapper_extra: str) -> None:
    result = check(write(tmp_path, KEYED.format(master=master) + wrapper_extra))
    assert result.returncode == 0, result.stderr


def test_without_a_key_plain_http_purges_are_fine(tmp_path: Path) -> None:
    result = check(write(tmp_path, "[mirror]\ndirectory = /srv/m\nmaster = http://upstream.example\n"))
    assert result.returncode == 0, result.stderr


def test_the_other_commands_refuse_it_too(tmp_path: Path) -> None:
    """Every command loads the same config: `status` stops with the same line, nothing touched."""
    mirror = tmp_path / "mirror"
    conf = write(tmp_path, KEYED.format(master="http://upstream.example").replace("/srv/m", str(mirror)))
    result = subprocess.run([PYPI_MIRROR, "-c", str(conf), "status"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("pypi-mirror: config error: [wrapper] purge-key-file: ")
    assert not mirror.exists()
