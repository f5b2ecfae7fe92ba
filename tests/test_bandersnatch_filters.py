"""bandersnatch 8.2.0's filter plugins, synced from the fake upstream (tests/fakepypi) with the
sections, keys and plugin names an operator's bandersnatch.conf holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mirror_tool.config import Config, load_config
from mirror_tool.engine.run import run_mirror
from mirror_tool.errors import ConfigError
from mirror_tool.exitcodes import ExitCode
from tests.fakepypi import FakePyPI
from tests.support.mirror_env import write_config


def _sync(tmp_path: Path, fp: FakePyPI, filters: str, name: str = "m") -> Config:
    config = load_config(write_config(tmp_path / f"{name}.conf", tmp_path / name, fp.base_url, extra=filters))
    assert run_mirror(config).exit_code == ExitCode.OK
    return config


def _projects(config: Config) -> set[str]:
    doc = json.loads((config.web_dir / "simple" / "index.v1_json").read_bytes())
    return {p["name"] for p in doc["projects"]}


def _versions(config: Config, norm: str) -> set[str]:
    """Versions of the files the project's page lists."""
    doc = json.loads((config.web_dir / "simple" / norm / "index.v1_json").read_bytes())
    return {f["filename"].split("-")[1].removesuffix(".tar.gz") for f in doc["files"]}


def _files(config: Config, norm: str) -> list[str]:
    doc = json.loads((config.web_dir / "simple" / norm / "index.v1_json").read_bytes())
    return sorted(f["filename"] for f in doc["files"])


def test_requirements_files_allowlist_projects_and_pinned_versions(fakepypi: FakePyPI, tmp_path: Path) -> None:
    reqs = tmp_path / "reqs"
    reqs.mkdir()
    (reqs / "req-web.txt").write_text("# the web stack\n-r other.txt\nFoo.Bar==1.1.0  # pinned\n--hash=sha256:00\n")
    (reqs / "req-plat.txt").write_text('\ufeffplat_wheels>=1.1 ; python_version > "3"\nNeeds-Py\n', encoding="utf-8")
    config = _sync(tmp_path, fakepypi, f"[plugins]\nenabled =\n    project_requirements\n    project_requirements_pinned\n"
                   f"    prerelease_release\n[allowlist]\nrequirements_path = {reqs}\nrequirements = req-*.txt\n")
    assert _projects(config) == {"Foo.Bar", "Plat_Wheels", "Needs_Py"}
    assert _versions(config, "foo-bar") == {"1.1.0"}
    assert _versions(config, "plat-wheels") == {"1.1.0", "1.2.0"}
    assert _versions(config, "needs-py") == {"1.0.0", "1.1.0", "1.2.0", "5.0.0"}  # bare name: every version


def test_requirements_file_missing_is_a_config_error(fakepypi: FakePyPI, tmp_path: Path) -> None:
    conf = write_config(tmp_path / "m.conf", tmp_path / "m", fakepypi.base_url,
                        extra="[allowlist]\nrequirements = nowhere.txt\n")
    with pytest.raises(ConfigError, match=r"^\[allowlist\] requirements: cannot read .*nowhere.txt"):
        load_config(conf)


def test_regex_project_matches_upstream_spelling_and_normalized_name(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _sync(tmp_path, fakepypi, "[plugins]\nenabled = regex_project\n[filter_regex]\npackages =\n    Foo\\.\n"
                   "    ^plat-\n")
    assert "Foo.Bar" not in _projects(config) and "Plat_Wheels" not in _projects(config)
    assert {"Needs_Py", "Yanked-Pkg"} <= _projects(config)


def test_prerelease_filter_limited_to_listed_projects_compares_normalized(fakepypi_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=10)
    other = "kappa1_pkg-x"  # the second generic project: its latest is 2.0.0rc1
    config = _sync(tmp_path, fp, "[plugins]\nenabled = prerelease_release\n[filter_prerelease]\npackages = Pre.Release\n")
    assert _versions(config, "pre-release") == {"1.0.0", "1.1.0", "1.2.0"}  # 8.2.0 kept 2.0.0rc1 here (its bug)
    assert "2.0.0rc1" in _versions(config, other.replace("_", "-"))


def test_latest_release_sort_by_time_and_upstreams_latest_always_kept(fakepypi: FakePyPI, tmp_path: Path) -> None:
    fakepypi.upload("Foo.Bar", "0.9.0")  # a backport: the newest upload, not the highest version
    by_time = _sync(tmp_path, fakepypi, "[latest_release]\nkeep = 2\nsort_by = time\n", name="t")
    assert _versions(by_time, "foo-bar") == {"0.9.0", "1.2.0"}
    by_version = _sync(tmp_path, fakepypi, "[latest_release]\nkeep = 2\n", name="v")
    assert _versions(by_version, "foo-bar") == {"1.1.0", "1.2.0"}
    one = _sync(tmp_path, fakepypi, "[latest_release]\nkeep = 1\n", name="one")
    assert _versions(one, "pre-release") == {"1.2.0"}  # info.version, not the higher 2.0.0rc1


def test_project_size_and_version_count_limits_exempt_the_allowlist(fakepypi: FakePyPI, tmp_path: Path) -> None:
    fakepypi.upload("Foo.Bar", "2.0.0", file_size=300_000)
    config = _sync(tmp_path, fakepypi, "[plugins]\nenabled =\n    size_project_metadata\n"
                   "    versions_count_project_metadata\n[size_project_metadata]\nmax_package_size = 0.25M\n"
                   "[versions_count_project_metadata]\nmax_versions = 3\n[allowlist]\npackages = Pre.Release\n")
    held = _projects(config)
    assert "Foo.Bar" not in held  # 600 KB in all
    assert "Yanked-Pkg" not in held and "Needs_Py" not in held  # 4 versions each
    assert "Pre.Release" in held  # 4 versions too, but exempt ([allowlist] packages, not applied itself)
    assert {"foo_bar-baz", "Plat_Wheels"} <= held
    # a project that grows past the limit later is withdrawn from the mirror
    fakepypi.upload("foo_bar-baz", "9.0.0", file_size=300_000)
    assert run_mirror(config).exit_code == ExitCode.OK
    assert "foo_bar-baz" not in _projects(config)
    assert not (config.web_dir / "simple" / "foo-bar-baz").exists()


def test_metadata_regexes_on_project_and_file_fields(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _sync(tmp_path, fakepypi, "[plugins]\nenabled =\n    regex_project_metadata\n    regex_release_file_metadata\n"
                   "[regex_project_metadata]\nnone:info.classifiers =\n    License :: OSI Approved :: GNU\n"
                   "any:info.license = ^MIT$\n    ^$\n"
                   "[regex_release_file_metadata]\nany:release_file.packagetype = bdist_wheel\n")
    held = _projects(config)
    assert "Plat_Wheels" not in held  # GPL classifier
    assert {"Foo.Bar", "Needs_Py"} <= held  # MIT; no classifiers at all passes `none` (8.2.0 drops it)
    assert all(name.endswith(".whl") for name in _files(config, "foo-bar"))


def test_requires_python_range_drops_files_for_other_pythons(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _sync(tmp_path, fakepypi, "[plugins]\nenabled = version_range_release_file_metadata\n"
                   "[version_range_release_file_metadata]\nrelease_file.requires_python = 3.12\n")
    assert _versions(config, "needs-py") == {"1.0.0", "1.1.0", "1.2.0"}  # 5.0.0 needs <3
    assert "1.0.0" in _versions(config, "foo-bar")  # no requires_python: kept


def test_plugins_enabled_decides_which_sections_apply(fakepypi: FakePyPI, tmp_path: Path) -> None:
    conf = write_config(tmp_path / "m.conf", tmp_path / "m", fakepypi.base_url, extra=(
        "[plugins]\nenabled =\n    exclude_platform\n    allowlist_project\n"
        "[blocklist]\npackages = Needs_Py\nplatforms = windows\n[allowlist]\npackages =\n    Foo.Bar>=1.1\n    Plat_Wheels\n"
        "    Needs_Py\n"))
    config = load_config(conf)
    assert run_mirror(config).exit_code == ExitCode.OK
    assert _projects(config) == {"Foo.Bar", "Plat_Wheels", "Needs_Py"}  # blocklist_project not enabled
    assert _versions(config, "foo-bar") == {"1.0.0", "1.1.0", "1.2.0"}  # allowlist_release not enabled
    assert not [f for f in _files(config, "plat-wheels") if "win" in f]


def test_one_line_plugin_list_is_an_error_not_silence(fakepypi: FakePyPI, tmp_path: Path) -> None:
    conf = write_config(tmp_path / "m.conf", tmp_path / "m", fakepypi.base_url,
                        extra="[plugins]\nenabled = blocklist_project exclude_platform\n")
    with pytest.raises(ConfigError, match=r"^\[plugins\] enabled: one plugin name per line"):
        load_config(conf)
    conf.write_text(conf.read_text().replace("blocklist_project exclude_platform", "blacklist_project"))
    with pytest.raises(ConfigError, match="pre-5.0 name .* write blocklist_project"):
        load_config(conf)


def test_enabled_all_without_allowlists_mirrors_files_and_says_what_8_2_0_would_do(fakepypi: FakePyPI,
                                                                                   tmp_path: Path) -> None:
    config = _sync(tmp_path, fakepypi, "[plugins]\nenabled = all\n[blocklist]\npackages = Yanked-Pkg\n")
    trap = [w for w in config.warnings if "would keep no version" in w]
    assert len(trap) == 2 and "allowlist_release" in trap[0] + trap[1] and "enabled = all" in trap[0]
    assert "Yanked-Pkg" not in _projects(config)
    assert _files(config, "foo-bar")  # files mirrored (8.2.0 mirrored none)
    assert _versions(config, "pre-release") == {"1.0.0", "1.1.0", "1.2.0"}  # prerelease_release is part of all
