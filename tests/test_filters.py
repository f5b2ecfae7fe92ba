"""Filter rules (mirror_tool/filters.py, mirror_tool/platform_tags.py): pure functions, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror_tool.config import FilterSettings, parse_config_text
from mirror_tool.errors import ConfigError
from mirror_tool.filters import load_filter, validate_filter_settings
from mirror_tool.platform_tags import PLATFORM_KEYWORDS, compile_keyword, excluded_by_platforms


def _files(*names: str, size: int = 100) -> list[dict]:
    return [{"filename": n, "size": size} for n in names]


def _config(filters: str) -> FilterSettings:
    text = f"[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:1\n{filters}"
    return parse_config_text(text, Path("/tmp/test.conf")).filters


# -- projects -------------------------------------------------------------------------------------


def test_no_filters_admits_everything_and_keeps_every_release() -> None:
    f = load_filter(FilterSettings())
    releases = {"1.0": _files("a-1.0.tar.gz"), "2.0rc1": _files("a-2.0rc1.tar.gz"), "3.0": []}
    assert not f.active
    assert f.admits_project("anything")
    assert f.filter_releases("a", releases) == releases


def test_allowlist_admits_only_listed_projects_by_normalized_name() -> None:
    f = load_filter(FilterSettings(allowlist_packages=("Foo.Bar", "numpy>=1.26")))
    assert f.admits_project("foo-bar")
    assert f.admits_project("numpy")
    assert not f.admits_project("scipy")
    assert f.filter_releases("scipy", {"1.0": _files("scipy-1.0.tar.gz")}) == {}


def test_allowlist_specifier_keeps_only_matching_versions_including_prereleases() -> None:
    f = load_filter(FilterSettings(allowlist_packages=("numpy>=1.26",)))
    releases = {v: _files(f"numpy-{v}.tar.gz") for v in ("1.25.2", "1.26.0", "2.0.0rc1", "2.0.0", "weird")}
    assert sorted(f.filter_releases("numpy", releases)) == ["1.26.0", "2.0.0", "2.0.0rc1"]


def test_allowlist_name_only_entry_wins_over_specifier_entries_for_same_project() -> None:
    f = load_filter(FilterSettings(allowlist_packages=("numpy<1", "numpy")))
    assert sorted(f.filter_releases("numpy", {"0.9": _files("a"), "2.0": _files("b")})) == ["0.9", "2.0"]


def test_blocklist_name_removes_project_and_specifier_removes_versions() -> None:
    f = load_filter(FilterSettings(blocklist_packages=("evil", "big<2")))
    assert not f.admits_project("Evil")
    assert f.admits_project("big")
    releases = {"1.0": _files("big-1.0.tar.gz"), "2.0": _files("big-2.0.tar.gz")}
    assert list(f.filter_releases("big", releases)) == ["2.0"]


# -- versions -------------------------------------------------------------------------------------


def test_prerelease_filter_drops_pre_and_dev_releases_but_not_post_releases() -> None:
    f = load_filter(FilterSettings(prereleases=True))
    versions = ["1.0", "1.1a1", "1.1b2", "1.1rc1", "1.1.dev3", "1.0.post1", "not-pep440"]
    releases = {v: _files(f"p-{v}.tar.gz") for v in versions}
    assert sorted(f.filter_releases("p", releases)) == ["1.0", "1.0.post1", "not-pep440"]


def test_release_regex_excludes_matching_versions() -> None:
    f = load_filter(FilterSettings(release_regexes=(r".*\.post\d+$", r"^0\.")))
    releases = {v: _files(f"p-{v}.tar.gz") for v in ("0.9", "1.0", "1.0.post1")}
    assert list(f.filter_releases("p", releases)) == ["1.0"]


def test_latest_release_keeps_highest_pep440_versions_after_other_filters() -> None:
    f = load_filter(FilterSettings(latest_keep=2, prereleases=True))
    versions = ["1.9", "1.10", "2.0", "2.1rc1", "0.1"]
    releases = {v: _files(f"p-{v}.tar.gz") for v in versions}
    assert sorted(f.filter_releases("p", releases)) == ["1.10", "2.0"]


def test_latest_release_counts_only_versions_that_still_have_files() -> None:
    f = load_filter(FilterSettings(latest_keep=1, blocklist_platforms=("windows",)))
    releases = {
        "1.0": _files("p-1.0.tar.gz"),
        "2.0": _files("p-2.0-cp311-cp311-win_amd64.whl"),
        "3.0": [],
    }
    assert f.filter_releases("p", releases) == {"1.0": releases["1.0"]}


# -- files ----------------------------------------------------------------------------------------


def test_size_filter_excludes_large_files_except_for_exempt_projects() -> None:
    f = load_filter(FilterSettings(max_file_size=1000, size_allowlist=("Big_Project",)))
    releases = {"1.0": [{"filename": "x-1.0.tar.gz", "size": 1001}, {"filename": "x-1.0-py3-none-any.whl", "size": 1000}]}
    assert [d["filename"] for d in f.filter_releases("x", releases)["1.0"]] == ["x-1.0-py3-none-any.whl"]
    assert f.filter_releases("big-project", releases) == releases
    assert f.admits_file("x", {"filename": "x-1.0.tar.gz"})  # unknown size passes


def test_filter_releases_returns_the_same_dict_objects() -> None:
    f = load_filter(FilterSettings(blocklist_platforms=("windows",)))
    keep = {"filename": "p-1.0-py3-none-any.whl", "size": 5, "digests": {"sha256": "0" * 64}}
    out = f.filter_releases("p", {"1.0": [keep, {"filename": "p-1.0-cp311-cp311-win32.whl"}]})
    assert out["1.0"][0] is keep and len(out["1.0"]) == 1


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
        settings = _config(section)
        validate_filter_settings(settings)  # whichever layer catches it, the message is the same form
    message = str(info.value)
    assert message.startswith(expected)  # one line on the CLI: tests/test_filters_mirror.py
    assert info.value.exit_code == 2


def test_validate_rejects_keyword_the_filters_cannot_compile() -> None:
    with pytest.raises(ConfigError, match=r"^\[blocklist\] platforms: unknown platform keyword 'amiga'"):
        validate_filter_settings(FilterSettings(blocklist_platforms=("amiga",)))
    with pytest.raises(ConfigError, match=r"^\[allowlist\] packages: .*only a name"):
        validate_filter_settings(FilterSettings(allowlist_packages=("numpy; python_version<'3'",)))


def test_filters_from_config_file_are_applied() -> None:
    settings = _config(
        "[allowlist]\npackages =\n    numpy >= 1.26\n    requests\n"
        "[blocklist]\nplatforms = windows macos py2 freethreaded\n"
        "[filters]\nprereleases = true\n"
        "[latest_release]\nkeep = 2\n"
        "[size]\nmax_file_size = 1M\nallowlist = requests\n"
    )
    validate_filter_settings(settings)
    f = load_filter(settings)
    assert f.admits_project("numpy") and f.admits_project("requests") and not f.admits_project("scipy")
    releases = {
        "1.25": _files("numpy-1.25.tar.gz"),
        "1.26": _files("numpy-1.26-cp311-cp311-win_amd64.whl", "numpy-1.26-cp311-cp311-manylinux_2_17_x86_64.whl"),
        "2.0rc1": _files("numpy-2.0rc1.tar.gz"),
        "2.0": [{"filename": "numpy-2.0.tar.gz", "size": 2 << 20}, {"filename": "numpy-2.0-py2.py3-none-any.whl", "size": 10}],
        "2.1": _files("numpy-2.1-py2-none-any.whl", "numpy-2.1-cp313-cp313t-linux_x86_64.whl"),
    }
    out = f.filter_releases("numpy", releases)
    assert {v: [d["filename"] for d in files] for v, files in out.items()} == {
        "1.26": ["numpy-1.26-cp311-cp311-manylinux_2_17_x86_64.whl"],
        "2.0": ["numpy-2.0-py2.py3-none-any.whl"],
    }
    big = {"3.0": [{"filename": "requests-3.0.tar.gz", "size": 5 << 20}]}
    assert f.filter_releases("requests", big) == big
