"""The role's /etc/pypi-mirror.conf template, judged by the mirror client itself.

Rendered by Ansible from the role's defaults and a few variable sets, every file must be accepted
by `mirror_tool.config.load_config` and by the real `pypi-mirror` command with the values the
variables asked for; a bad variable must come back as the tool's own one-line config error
(exit 2), which is what the role's `validate:` shows an operator.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mirror_tool.config import load_config
from mirror_tool.errors import ConfigError
from tests.support.role_render import prepare_renders, render_template, role_defaults, role_vars

MASTER = "http://upstream:8080"
PYPI_MIRROR = str(Path(sys.executable).parent / "pypi-mirror")

VARIABLE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "filters": {
        "pypi_mirror_allowlist_packages": ["requests", "numpy>=1.26"],
        "pypi_mirror_blocklist_packages": ["example-unwanted", "django<4"],
        "pypi_mirror_blocklist_platforms": ["windows", "macos", "py2.7", "freethreaded"],
        "pypi_mirror_filter_prereleases": True,
        "pypi_mirror_filter_regex_releases": [r".*rc\d+$", r"^0\."],
        "pypi_mirror_latest_release_keep": 3,
        "pypi_mirror_size_max_file_size": "500M",
        "pypi_mirror_size_allowlist": ["torch"],
        "pypi_mirror_filter_regex_packages": ["^evil-"],
        "pypi_mirror_latest_release_sort_by": "time",
        "pypi_mirror_filter_prerelease_packages": ["numpy"],
        "pypi_mirror_size_project_max_package_size": "1.5G",
        "pypi_mirror_versions_count_min": 1,
        "pypi_mirror_extra_config": "[regex_project_metadata]\nnot-null:info.classifiers =\n    Programming Language :: Python :: 3",
    },
    "bandersnatch-keys": {
        "pypi_mirror_plugins_enabled": ["blocklist_project", "latest_release"],
        "pypi_mirror_blocklist_packages": ["example-unwanted"],
        "pypi_mirror_latest_release_keep": 2,
        "pypi_mirror_core_metadata": False,
        "pypi_mirror_digest_name": "md5",
        "pypi_mirror_keep_index_versions": 2,
        "pypi_mirror_hash_index": True,
        "pypi_mirror_diff_file": "/srv/pypi-mirror/mirrored-files",
        "pypi_mirror_diff_append_epoch": True,
        "pypi_mirror_download_mirror": "https://near.example.net/",
        "pypi_mirror_download_mirror_no_fallback": True,
    },
    "purge-and-tuning": {
        "pypi_mirror_purge": "off",
        "pypi_mirror_purge_url": "https://cdn.example.net",
        "pypi_mirror_purge_key": "s3cret",
        "pypi_mirror_wrapper_time_limit": 1800,
        "pypi_mirror_retry_attempts": 5,
        "pypi_mirror_retry_interval": 60.5,
        "pypi_mirror_wrapper_state_file": "/var/lib/pypi-mirror/wrapper-state.json",
        "pypi_mirror_workers": 16,
        "pypi_mirror_worker_mode": "threads",
        "pypi_mirror_json": "yes",
        "pypi_mirror_release_files": False,
        "pypi_mirror_simple_format": "JSON",
        "pypi_mirror_compare_method": "stat",
        "pypi_mirror_changelog_source": "index",
        "pypi_mirror_root_uri": "https://files.example.net",
        "pypi_mirror_log_file": "",
        "pypi_mirror_metrics_file": "",
    },
}


BAD_VARIABLES: list[tuple[dict[str, Any], str]] = [
    ({"pypi_mirror_workers": 0}, "[mirror] workers:"),
    ({"pypi_mirror_master": "ftp://upstream"}, "[mirror] master:"),
    ({"pypi_mirror_directory": "relative/dir"}, "[mirror] directory:"),
    ({"pypi_mirror_compare_method": "mtime"}, "[mirror] compare-method:"),
    ({"pypi_mirror_purge": "always"}, "[wrapper] purge:"),
    ({"pypi_mirror_wrapper_time_limit": -1}, "[wrapper] time-limit:"),
    ({"pypi_mirror_blocklist_platforms": ["amiga"]}, "[blocklist] platforms:"),
    ({"pypi_mirror_size_max_file_size": "lots"}, "[size] max_file_size:"),
]


def _case(**overrides: Any) -> dict[str, Any]:
    return {"pypi_mirror_master": MASTER, **overrides}


# Rendered together in one ansible-playbook run (tests/support/role_render.py).
prepare_renders(*[_case(**overrides) for overrides in VARIABLE_SETS.values()],
                *[_case(**overrides) for overrides, _ in BAD_VARIABLES],
                _case(pypi_mirror_workers=65))


def render(tmp_path: Path, **overrides: Any) -> Path:
    conf = tmp_path / "pypi-mirror.conf"
    conf.write_text(render_template("pypi-mirror.conf.j2", **_case(**overrides)))
    return conf


def run_tool(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYPI_MIRROR, "-c", str(conf), *args], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("name", list(VARIABLE_SETS))
def test_rendered_config_is_accepted_with_the_asked_values(tmp_path: Path, name: str) -> None:
    overrides = VARIABLE_SETS[name]
    config = load_config(render(tmp_path, **overrides))
    values = role_vars(**_case(**overrides))
    assert str(config.mirror.directory) == values["pypi_mirror_directory"]
    assert config.mirror.master == MASTER
    assert config.mirror.workers == int(values["pypi_mirror_workers"])
    assert config.mirror.worker_mode == values["pypi_mirror_worker_mode"]
    assert config.mirror.json is (str(values["pypi_mirror_json"]).lower() in {"true", "yes"})
    assert config.mirror.release_files is bool(values["pypi_mirror_release_files"])
    assert config.mirror.simple_format == values["pypi_mirror_simple_format"]
    assert config.mirror.compare_method == values["pypi_mirror_compare_method"]
    assert config.mirror.root_uri == values["pypi_mirror_root_uri"]
    assert config.wrapper.time_limit == float(values["pypi_mirror_wrapper_time_limit"])
    assert config.wrapper.purge == values["pypi_mirror_purge"]
    assert config.wrapper.purge_url == values["pypi_mirror_purge_url"]
    assert config.wrapper.retry_interval == float(values["pypi_mirror_retry_interval"])
    assert str(config.wrapper.purge_key_file or "") == values["pypi_mirror_purge_key_file"]
    assert str(config.wrapper.metrics_file or "") == values["pypi_mirror_metrics_file"]
    assert str(config.wrapper.log_file or "") == values["pypi_mirror_wrapper_log_file"]
    assert config.mirror.core_metadata is bool(values["pypi_mirror_core_metadata"])
    assert config.mirror.digest_name == values["pypi_mirror_digest_name"]
    assert config.mirror.keep_index_versions == int(values["pypi_mirror_keep_index_versions"])
    assert config.mirror.hash_index is bool(values["pypi_mirror_hash_index"])
    assert config.mirror.diff_file == values["pypi_mirror_diff_file"]
    assert config.mirror.download_mirror == values["pypi_mirror_download_mirror"].rstrip("/")
    assert (config.section("plugins") or {}).get("enabled") == (tuple(values["pypi_mirror_plugins_enabled"]) or None)
    filters = config.filters
    assert list(filters.allowlist_packages) == values["pypi_mirror_allowlist_packages"]
    assert list(filters.blocklist_packages) == values["pypi_mirror_blocklist_packages"]
    assert list(filters.blocklist_platforms) == values["pypi_mirror_blocklist_platforms"]
    assert filters.prereleases is bool(values["pypi_mirror_filter_prereleases"])
    assert list(filters.release_regexes) == values["pypi_mirror_filter_regex_releases"]
    assert filters.latest_keep == values["pypi_mirror_latest_release_keep"]
    assert list(filters.size_allowlist) == values["pypi_mirror_size_allowlist"]
    assert (filters.max_file_size is None) == (values["pypi_mirror_size_max_file_size"] == "")


def test_defaults_write_no_filter_section(tmp_path: Path) -> None:
    """A filter section applies when present: the defaults must mirror everything."""
    config = load_config(render(tmp_path))
    assert config.filters.sections == frozenset()


def test_defaults_match_the_tools_own_defaults(tmp_path: Path) -> None:
    """The role's defaults change nothing the tool would do by default, except the deployment
    paths (log files, metrics file) the role sets on purpose."""
    ours = load_config(render(tmp_path))
    bare = tmp_path / "bare.conf"
    bare.write_text(f"[mirror]\ndirectory = /srv/pypi-mirror\nmaster = {MASTER}\n")
    tool = load_config(bare)
    assert ours.mirror == type(tool.mirror)(**{**tool.mirror.__dict__, "log_file": ours.mirror.log_file})
    assert ours.wrapper == type(tool.wrapper)(**{
        **tool.wrapper.__dict__, "log_file": ours.wrapper.log_file, "metrics_file": ours.wrapper.metrics_file})


def test_the_real_command_accepts_the_rendered_config(tmp_path: Path) -> None:
    conf = render(tmp_path, pypi_mirror_directory=str(tmp_path / "mirror"), pypi_mirror_log_file="",
                  **VARIABLE_SETS["filters"])
    result = run_tool(conf, "status")
    assert result.returncode != 2, result.stderr
    assert "config error" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "expected"),
    BAD_VARIABLES,
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_bad_variable_yields_the_tools_clear_error(tmp_path: Path, overrides: dict[str, Any], expected: str) -> None:
    conf = render(tmp_path, **overrides)
    with pytest.raises(ConfigError) as error:
        load_config(conf)
    assert str(error.value).startswith(expected)

    result = run_tool(conf, "status")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"pypi-mirror: config error: {expected}"), lines


def test_validate_command_of_the_role_rejects_a_bad_config(tmp_path: Path) -> None:
    """The role's template `validate:` (`pypi-mirror check-config %s` in the venv) must accept the
    rendered file silently and fail with the tool's one line."""
    tasks = yaml.safe_load((Path(__file__).resolve().parents[1] / "roles/pypi_mirror/tasks/configure.yml").read_text())
    [task] = [t for t in tasks if t.get("ansible.builtin.template", {}).get("src") == "pypi-mirror.conf.j2"]
    validate = task["ansible.builtin.template"]["validate"].replace("{{ pypi_mirror_venv }}", sys.prefix)

    def run_validate(conf: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(shlex.split(validate % conf), capture_output=True, text=True, check=False)

    good = run_validate(render(tmp_path))
    assert (good.returncode, good.stdout, good.stderr) == (0, "", "")
    result = run_validate(render(tmp_path, pypi_mirror_workers=65))
    assert result.returncode == 2
    assert result.stderr == "pypi-mirror: config error: [mirror] workers: must be an integer in 1..64, got 65\n"


#: Keys the role writes no variable for, and why: the role owns the tree's permissions and its log
#: setup; the metadata-filter sections (free-form keys) go through `pypi_mirror_extra_config`.
NO_ROLE_VARIABLE = {
    ("mirror", "log-config"), ("mirror", "storage-filesystem-manage-permissions"),
    ("regex_project_metadata", "search"), ("regex_release_file_metadata", "search"),
}


def test_every_config_key_has_a_role_variable() -> None:
    """Each key of the tool's example config is driven by a pypi_mirror_* variable (or is one of
    NO_ROLE_VARIABLE, which `pypi_mirror_extra_config` can still write)."""
    example = (Path(__file__).resolve().parents[1] / "mirror_tool" / "example.conf").read_text()
    template = (Path(__file__).resolve().parents[1] / "roles/pypi_mirror/templates/pypi-mirror.conf.j2").read_text()
    defaults = role_defaults()
    section = ""
    for line in example.splitlines():
        line = line.lstrip("# ").rstrip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif (match := re.match(r"^([a-z_-]+) =", line)) and section:
            key = match.group(1)
            if (section, key) in NO_ROLE_VARIABLE:
                continue
            assert f"\n{key} =" in template, f"[{section}] {key} is not in the role's config template"
    assert "[allowlist]" in template and "[size]" in template
    for name in defaults:
        assert name.startswith("pypi_mirror_"), name
