"""Filter rules (mirror_tool/filters/): pure functions over records, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror_tool.config import Config, parse_config_text
from mirror_tool.errors import ConfigError
from mirror_tool.filters import FilterChain, load_filters
from mirror_tool.filters.platforms import PLATFORM_KEYWORDS, compile_keyword, excluded_by_platforms
from mirror_tool.names import normalize
from mirror_tool.records import Project, ReleaseFile

FileSpec = str | tuple[str, int | None]


def _config(filters: str) -> Config:
    text = f"[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:1\n{filters}"
    return parse_config_text(text, Path("/tmp/test.conf"))


def _chain(filters: str) -> FilterChain:
    return load_filters(_config(filters))


def _project(name: str, releases: dict[str, list[FileSpec]], size: int | None = 100) -> Project:
    """A project record: version -> files (a filename, or (filename, size))."""
    files = []
    for version, specs in releases.items():
        for spec in specs:
            filename, file_size = spec if isinstance(spec, tuple) else (spec, size)
            files.append(ReleaseFile(filename, f"https://files.invalid/{filename}", "0" * 64, version, file_size))
    return Project(name, normalize(name), 1, tuple(releases), tuple(files))


def _admitted(chain: FilterChain, project: Project) -> dict[str, list[str]]:
    out = chain.filter_project(project)
    return {v: [f.filename for f in out.files if f.version == v] for v in out.versions}


# -- projects -------------------------------------------------------------------------------------


def test_no_filters_admits_everything_and_keeps_every_release() -> None:
    f = load_filters(_config(""))
    project = _project("a", {"1.0": ["a-1.0.tar.gz"], "2.0rc1": ["a-2.0rc1.tar.gz"], "3.0": []})
    assert not f.active
    assert f.admits_project("anything")
    assert f.filter_project(project) == project


def test_allowlist_admits_only_listed_projects_by_normalized_name() -> None:
    f = _chain("[allowlist]\npackages =\n    Foo.Bar\n    numpy>=1.26\n")
    assert f.admits_project("foo-bar")
    assert f.admits_project("numpy")
    assert not f.admits_project("scipy")
    assert _admitted(f, _project("scipy", {"1.0": ["scipy-1.0.tar.gz"]})) == {}


def test_allowlist_specifier_keeps_only_matching_versions_including_prereleases() -> None:
    f = _chain("[allowlist]\npackages = numpy>=1.26\n")
    releases = {v: [f"numpy-{v}.tar.gz"] for v in ("1.25.2", "1.26.0", "2.0.0rc1", "2.0.0", "weird")}
    assert sorted(_admitted(f, _project("numpy", releases))) == ["1.26.0", "2.0.0", "2.0.0rc1"]


def test_allowlist_name_only_entry_wins_over_specifier_entries_for_same_project() -> None:
    f = _chain("[allowlist]\npackages =\n    numpy<1\n    numpy\n")
    assert sorted(_admitted(f, _project("numpy", {"0.9": ["a"], "2.0": ["b"]}))) == ["0.9", "2.0"]


def test_blocklist_name_removes_project_and_specifier_removes_versions() -> None:
    f = _chain("[blocklist]\npackages =\n    Evil\n    big<2\n")
    assert not f.admits_project("evil")
    assert f.admits_project("big")
    releases = {"1.0": ["big-1.0.tar.gz"], "2.0": ["big-2.0.tar.gz"]}
    assert list(_admitted(f, _project("big", releases))) == ["2.0"]


# -- versions -------------------------------------------------------------------------------------


def test_prerelease_filter_drops_pre_and_dev_releases_but_not_post_releases() -> None:
    f = _chain("[filters]\nprereleases = true\n")
    versions = ["1.0", "1.1a1", "1.1b2", "1.1rc1", "1.1.dev3", "1.0.post1", "not-pep440"]
    releases = {v: [f"p-{v}.tar.gz"] for v in versions}
    assert sorted(_admitted(f, _project("p", releases))) == ["1.0", "1.0.post1", "not-pep440"]


def test_release_regex_excludes_matching_versions() -> None:
    f = _chain("[filter_regex]\nreleases =\n    .*\\.post\\d+$\n    ^0\\.\n")
    releases = {v: [f"p-{v}.tar.gz"] for v in ("0.9", "1.0", "1.0.post1")}
    assert list(_admitted(f, _project("p", releases))) == ["1.0"]


def test_latest_release_keeps_highest_pep440_versions_after_other_filters() -> None:
    f = _chain("[latest_release]\nkeep = 2\n[filters]\nprereleases = true\n")
    versions = ["1.9", "1.10", "2.0", "2.1rc1", "0.1"]
    releases = {v: [f"p-{v}.tar.gz"] for v in versions}
    assert sorted(_admitted(f, _project("p", releases))) == ["1.10", "2.0"]


def test_latest_release_counts_only_versions_that_still_have_files() -> None:
    f = _chain("[latest_release]\nkeep = 1\n[blocklist]\nplatforms = windows\n")
    releases: dict[str, list[FileSpec]] = {"1.0": ["p-1.0.tar.gz"], "2.0": ["p-2.0-cp311-cp311-win_amd64.whl"], "3.0": []}
    assert _admitted(f, _project("p", releases)) == {"1.0": ["p-1.0.tar.gz"]}


# -- files ----------------------------------------------------------------------------------------


def test_size_filter_excludes_large_files_except_for_exempt_projects() -> None:
    f = _chain("[size]\nmax_file_size = 1000\nallowlist = Big_Project\n")
    releases: dict[str, list[FileSpec]] = {"1.0": [("x-1.0.tar.gz", 1001), ("x-1.0-py3-none-any.whl", 1000)]}
    assert _admitted(f, _project("x", releases)) == {"1.0": ["x-1.0-py3-none-any.whl"]}
    big = _project("Big.Project", releases)
    assert f.filter_project(big) == big
    assert _admitted(f, _project("x", {"1.0": [("x-1.0.tar.gz", None)]})) == {"1.0": ["x-1.0.tar.gz"]}  # unknown size passes


def test_filter_project_returns_the_same_records() -> None:
    f = _chain("[blocklist]\nplatforms = windows\n")
    project = _project("p", {"1.0": ["p-1.0-py3-none-any.whl", "p-1.0-cp311-cp311-win32.whl"]})
    out = f.filter_project(project)
    assert len(out.files) == 1 and out.files[0] is project.files[0]


def test_a_file_of_unknown_version_is_judged_by_the_file_rules_only() -> None:
    f = _chain("[filters]\nprereleases = true\n[blocklist]\nplatforms = windows\n")
    project = _project("p", {"": ["odd-name.tar.gz", "odd-0-cp311-cp311-win32.whl"], "1.0a1": ["p-1.0a1.tar.gz"]})
    assert [x.filename for x in f.filter_project(project).files] == ["odd-name.tar.gz"]


@pytest.mark.parametrize(
    ("keywords", "filename", "excluded"),
    [
        (["windows"], "p-1.0-cp311-cp311-win_amd64.whl", True),
        (["windows"], "p-1.0-cp311-cp311-win32.whl", True),
        (["windows"], "p-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", False),
        (["windows"], "p-1.0.win32-py2.7.exe", True),
        (["windows"], "p-1.0.msi", True),
        (["windows"], "p-1.0.tar.gz", False),
        (["windows"], "p-1.0.zip", False),
        (["macos"], "p-1.0-cp311-cp311-macosx_11_0_arm64.whl", True),
        (["macos"], "p-1.0-cp311-cp311-macosx_10_9_x86_64.macosx_11_0_arm64.whl", True),
        (["macos"], "p-1.0-cp311-cp311-macosx_11_0_arm64.manylinux1_x86_64.whl", False),
        (["macos"], "p-1.0-py2.7-macosx-10.9-x86_64.egg", True),
        (["linux"], "p-1.0-cp311-cp311-musllinux_1_1_x86_64.whl", True),
        (["linux"], "p-1.0-cp311-cp311-linux_x86_64.whl", True),
        (["linux"], "linux_tools-1.0-py2.7.egg", False),  # project name, not platform
        (["linux"], "linux_tools-1.0-py2.7-linux-x86_64.egg", True),
        (["manylinux"], "p-1.0-cp311-cp311-musllinux_1_1_x86_64.whl", False),
        (["musllinux"], "p-1.0-cp311-cp311-musllinux_1_1_x86_64.whl", True),
        (["freebsd"], "p-1.0-cp311-cp311-freebsd_14_0_amd64.whl", True),
        (["ios"], "p-1.0-cp313-cp313-ios_13_0_arm64_iphoneos.whl", True),
        (["android"], "p-1.0-cp313-cp313-android_21_arm64_v8a.whl", True),
        (["py2"], "p-1.0-py2-none-any.whl", True),
        (["py2"], "p-1.0-cp27-cp27mu-manylinux1_x86_64.whl", True),
        (["py2"], "p-1.0-py2.py3-none-any.whl", False),
        (["py2"], "p-1.0-py3-none-any.whl", False),
        (["py2"], "p-1.0-py2.7.egg", True),
        (["py3"], "p-1.0-cp311-cp311-linux_x86_64.whl", True),
        (["py3.8"], "p-1.0-cp38-cp38-manylinux1_x86_64.whl", True),
        (["py3.8"], "p-1.0-cp38-abi3-manylinux1_x86_64.whl", False),
        (["py3.8"], "p-1.0-cp310-cp310-manylinux1_x86_64.whl", False),
        (["PY3.10"], "p-1.0-cp310-cp310-manylinux1_x86_64.whl", True),
        (["freethreaded"], "p-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", True),
        (["freethreaded"], "p-1.0-cp313-cp313-manylinux_2_17_x86_64.whl", False),
        (["free-threaded"], "p-1.0-cp314-cp314t-win_amd64.whl", True),
        (["osx"], "p-1.0-cp311-cp311-macosx_10_9_universal2.whl", True),
        (["pypy"], "p-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", True),
        (["windows", "macos"], "p-1.0-cp311-cp311-macosx_11_0_arm64.win_amd64.whl", True),
        (["windows", "macos", "py2", "freethreaded"], "p-1.0-py3-none-any.whl", False),
    ],
)
def test_platform_keywords(keywords: list[str], filename: str, excluded: bool) -> None:
    matchers = [compile_keyword(k) for k in keywords]
    assert excluded_by_platforms(filename, matchers) is excluded


def test_every_documented_keyword_compiles() -> None:
    for word in PLATFORM_KEYWORDS:
        compile_keyword(word.replace("X.Y", "3.9").replace("X", "2"))


# -- config errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("[blocklist]\nplatforms = beos\n", "[blocklist] platforms: unknown platform keyword 'beos'"),
        ("[blocklist]\nplatforms = py3.x\n", "[blocklist] platforms: unknown platform keyword"),
        ("[size]\nmax_file_size = 12X\n", "[size] max_file_size:"),
        ("[filter_regex]\nreleases = ([\n", "[filter_regex] releases:"),
        ("[allowlist]\npackages = numpy>=>1\n", "[allowlist] packages:"),
        ("[latest_release]\nkeep = -1\n", "[latest_release] keep:"),
        ("[filters]\nprereleases = maybe\n", "[filters] prereleases:"),
    ],
)
def test_bad_filter_config_is_one_config_error_naming_section_and_key(section: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_filters(_config(section))  # whichever layer catches it, the message is the same form
    message = str(info.value)
    assert message.startswith(expected)  # one line on the CLI: tests/test_filters_mirror.py
    assert info.value.exit_code == 2


def test_config_load_rejects_what_the_filters_cannot_compile() -> None:
    with pytest.raises(ConfigError, match=r"^\[blocklist\] platforms: unknown platform keyword 'amiga'"):
        _config("[blocklist]\nplatforms = amiga\n")
    with pytest.raises(ConfigError, match=r"^\[allowlist\] packages: .*only a name"):
        _config("[allowlist]\npackages = numpy; python_version<'3'\n")


def test_filters_from_config_file_are_applied() -> None:
    f = _chain(
        "[allowlist]\npackages =\n    numpy >= 1.26\n    requests\n"
        "[blocklist]\nplatforms = windows macos py2 freethreaded\n"
        "[filters]\nprereleases = true\n"
        "[latest_release]\nkeep = 2\n"
        "[size]\nmax_file_size = 1M\nallowlist = requests\n"
    )
    assert f.admits_project("numpy") and f.admits_project("requests") and not f.admits_project("scipy")
    releases: dict[str, list[FileSpec]] = {
        "1.25": ["numpy-1.25.tar.gz"],
        "1.26": ["numpy-1.26-cp311-cp311-win_amd64.whl", "numpy-1.26-cp311-cp311-manylinux_2_17_x86_64.whl"],
        "2.0rc1": ["numpy-2.0rc1.tar.gz"],
        "2.0": [("numpy-2.0.tar.gz", 2 << 20), ("numpy-2.0-py2.py3-none-any.whl", 10)],
        "2.1": ["numpy-2.1-py2-none-any.whl", "numpy-2.1-cp313-cp313t-linux_x86_64.whl"],
    }
    assert _admitted(f, _project("numpy", releases)) == {
        "1.26": ["numpy-1.26-cp311-cp311-manylinux_2_17_x86_64.whl"],
        "2.0": ["numpy-2.0-py2.py3-none-any.whl"],
    }
    big = _project("requests", {"3.0": [("requests-3.0.tar.gz", 5 << 20)]})
    assert f.filter_project(big) == big
