"""The bench times our client with the config file the role renders: the role's own template,
rendered by Ansible, with both sections; bandersnatch gets the same shared `[mirror]` keys."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from bench.role_config import RoleConfigError, RoleConfigs, check_rendered, shared_mirror_keys

VARIABLES = {"pypi_mirror_workers": 4, "pypi_mirror_verifiers": 4, "pypi_mirror_json": True}


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_rendered_config_is_the_roles_with_the_benchs_paths(tmp_path: Path) -> None:
    configs = RoleConfigs(VARIABLES)
    text = configs.text(directory=tmp_path / "tree", master="http://127.0.0.1:9", logs=tmp_path / "logs",
                        metrics=tmp_path / "metrics")
    assert text.startswith("# Managed by Ansible (role pypi_mirror)")
    conf = parse(text)
    assert conf.get("mirror", "directory") == str(tmp_path / "tree")
    assert conf.get("mirror", "master") == "http://127.0.0.1:9"
    assert conf.get("mirror", "workers") == "4" and conf.get("mirror", "json") == "true"
    assert conf.get("mirror", "log-file") == str(tmp_path / "logs" / "mirror.log")
    assert conf.get("wrapper", "log-file") == str(tmp_path / "logs" / "wrapper.log")
    assert conf.get("wrapper", "metrics-file") == str(tmp_path / "metrics" / "pypi_mirror.prom")
    assert conf.get("mirror", "reconcile-interval") == "24"  # the role's default
    again = configs.text(directory=tmp_path / "other", master="http://127.0.0.1:9", logs=tmp_path,
                         metrics=tmp_path, pypi_mirror_reconcile_interval=0)
    assert parse(again).get("mirror", "reconcile-interval") == "0"
    assert parse(again).get("mirror", "directory") == str(tmp_path / "other")
    shared = parse("[mirror]\n" + shared_mirror_keys(text))
    assert dict(shared["mirror"]) == {k: conf.get("mirror", k) for k in shared["mirror"]}
    assert {"workers", "verifiers", "json", "timeout", "simple-format"} <= set(shared["mirror"])


def test_a_rendered_file_that_does_not_say_what_was_asked_is_refused(tmp_path: Path) -> None:
    text = RoleConfigs(VARIABLES).text(directory=tmp_path, master="http://127.0.0.1:9", logs=tmp_path,
                                       metrics=tmp_path)
    expected = {"directory": str(tmp_path), "master": "http://127.0.0.1:9", "workers": "4"}
    check_rendered(text, expected)
    # what a renamed role variable would give: the role's default instead of the bench's value
    with pytest.raises(RoleConfigError, match="workers = '3'"):
        check_rendered(text.replace("workers = 4", "workers = 3"), expected)
    with pytest.raises(RoleConfigError, match=r"no \[wrapper\] section"):
        check_rendered(text.split("[wrapper]")[0], expected)
