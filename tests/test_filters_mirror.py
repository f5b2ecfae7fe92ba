"""Filters end to end: a real sync from tests/fakepypi, nginx serving the tree, the real pip."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from packaging.version import Version

from tests.fakepypi.server import FakePyPI
from tests.support.nginx import nginx_factory  # noqa: F401  (pytest fixture)
from tests.support.tree_check import assert_no_orphans, assert_tree_consistent
from tests.test_verify_support import MirrorEnv, pip_install

PLATFORM_FILTERS = """
[blocklist]
platforms =
    windows
    macos
    py2
    freethreaded
[filters]
prereleases = true
"""


def _installable(env: MirrorEnv) -> list[str]:
    """Projects whose pages list at least one file (pip cannot install an empty project)."""
    return sorted(n for n in env.root_projects() if env.page_files(n))


def _version_of(filename: str) -> str:
    return filename.split("-")[1].removesuffix(".tar.gz")


def _excluded_by_platform_or_prerelease(filename: str) -> bool:
    """The test's own statement of PLATFORM_FILTERS, independent of mirror_tool's code."""
    return bool(
        re.search(r"win32|win_amd64|macosx|-py2-|cp313t", filename) or Version(_version_of(filename)).is_prerelease
    )


def test_allowlist_of_5_out_of_500_downloads_and_lists_only_those(
    fakepypi_factory: Callable[..., FakePyPI], tmp_path: Path
) -> None:
    upstream = fakepypi_factory(projects=30, index_projects=500, releases=2, files=2)
    with_files = [n for n, info in upstream.projects().items() if any(r["files"] for r in info["releases"].values())]
    chosen = ["foo-bar", "pre-release", "plat-wheels", with_files[-1], with_files[-2]]
    assert len(set(chosen)) == 5
    env = MirrorEnv(tmp_path, upstream, json=True)
    spelled = ["Foo.Bar", "PRE_release", "plat-wheels", chosen[3], chosen[4]]
    env.configure("[allowlist]\npackages =\n" + "".join(f"    {n}\n" for n in spelled))
    upstream.clear_log()
    env.ok("mirror")

    assert env.root_projects() == set(chosen)
    assert {p.name for p in (env.web / "simple").iterdir() if p.is_dir()} == set(chosen)
    expected_files = {
        f["path"].lstrip("/")
        for name in chosen
        for rel in upstream.projects()[name]["releases"].values()
        for f in rel["files"]
    }
    downloaded = {r["path"].lstrip("/") for r in upstream.requests() if r["path"].startswith("/packages/")}
    assert {p for p in downloaded if not p.endswith(".metadata")} == expected_files
    fetched_json = {r["path"].split("/")[2].lower() for r in upstream.requests() if r["path"].startswith("/pypi/")}
    assert {n.replace("_", "-").replace(".", "-") for n in fetched_json} <= set(chosen)
    assert set(env.package_files()) - {p + ".metadata" for p in expected_files} == expected_files
    env.verify_json(expect=0)  # the 495 others are not "missing" from an allowlist mirror


def test_platform_and_prerelease_filters_keep_pip_working(
    fakepypi_factory: Callable[..., FakePyPI], tmp_path: Path, nginx_factory: Any  # noqa: F811
) -> None:
    upstream = fakepypi_factory(projects=8, releases=2, files=5)  # wheel, sdist, manylinux, win, mac
    upstream.upload("Plat_Wheels", "1.5.0", files=["cp313-cp313t-manylinux_2_17_x86_64", "py2-none-any", "wheel"])
    env = MirrorEnv(tmp_path, upstream)
    env.configure(PLATFORM_FILTERS)
    env.ok("mirror")
    report = assert_tree_consistent(env.root)

    listed = {f for pages in report.projects.values() for f in pages.files}
    upstream_files = {
        f["filename"]
        for info in upstream.projects().values()
        for rel in info["releases"].values()
        for f in rel["files"]
    }
    assert listed == {f for f in upstream_files if not _excluded_by_platform_or_prerelease(f)}
    assert any("manylinux" in f for f in listed) and any(f.endswith(".tar.gz") for f in listed)
    on_disk = {Path(p).name for p in env.package_files()}
    assert not {f for f in on_disk if _excluded_by_platform_or_prerelease(f.removesuffix(".metadata"))}
    assert "pre-release" in env.root_projects()
    assert all(not Version(_version_of(f)).is_prerelease for f in env.page_files("pre-release"))

    server = nginx_factory(env.web)
    projects = _installable(env)
    result = pip_install(f"{server.base_url}/simple/", tmp_path / "site", *projects)
    assert result.returncode == 0, result.stdout + result.stderr
    installed = {p.name.split("-")[0].lower().replace("_", "-") for p in (tmp_path / "site").glob("*.dist-info")}
    assert installed == set(projects)


def test_tightening_filters_then_verify_delete_frees_exactly_the_excluded_bytes(
    fakepypi_factory: Callable[..., FakePyPI], tmp_path: Path, nginx_factory: Any  # noqa: F811
) -> None:
    upstream = fakepypi_factory(projects=8, releases=3, files=5)
    env = MirrorEnv(tmp_path, upstream, json=True)
    env.ok("mirror")
    before = env.package_files()
    pages_before = {n: env.page_files(n) for n in env.root_projects()}

    env.configure(PLATFORM_FILTERS + "[latest_release]\nkeep = 2\n")
    # the test's own expectation: platform/prerelease rules, then the 2 highest remaining versions
    expected: set[str] = set()
    for norm, files in pages_before.items():
        survivors = {f for f in files if not _excluded_by_platform_or_prerelease(f)}
        versions = sorted({_version_of(f) for f in survivors}, key=Version, reverse=True)[:2]
        keep = {f for f in survivors if _version_of(f) in versions}
        expected |= {files[f]["url"].removeprefix("../../") for f in files if f not in keep}
    expected_paths = expected | {p + ".metadata" for p in expected if p + ".metadata" in before}
    expected_bytes = sum(before[p] for p in expected_paths)
    assert expected_bytes > 0

    doc = env.verify_json(expect=1)
    excluded = {p["path"] for p in doc["problems"] if p["kind"] == "excluded-file"}
    assert excluded == expected
    assert doc["would"]["delete_bytes"] == expected_bytes
    assert doc["would"]["delete_files"] == len(expected_paths)
    assert env.package_files() == before, "a dry run deletes nothing"

    doc = env.verify_json("--delete", expect=0)
    after = env.package_files()
    assert set(before) - set(after) == expected_paths
    assert doc["deleted"]["bytes"] == expected_bytes == sum(before.values()) - sum(after.values())
    assert_no_orphans(env.root)
    for norm, files in pages_before.items():  # rewritten pages keep every field of the kept files
        after_files = env.page_files(norm)
        assert after_files == {f: d for f, d in files.items() if d["url"].removeprefix("../../") not in expected}
    copies = [env.web / "pypi" / n / "json" for n in env.root_projects()]
    assert len([c for c in copies if c.exists()]) >= 6
    for path in (c for c in copies if c.exists()):  # JSON copies no longer point at deleted files
        copy = json.loads(path.read_bytes())
        for files in copy["releases"].values():
            for f in files:
                if not f["url"].startswith("http"):
                    assert (env.web / f["url"].lstrip("/")).is_file(), f["url"]
    env.verify_json(expect=0)

    server = nginx_factory(env.web)
    projects = _installable(env)
    result = pip_install(f"{server.base_url}/simple/", tmp_path / "site", *projects)
    assert result.returncode == 0, result.stdout + result.stderr

    upstream.clear_log()
    env.ok("mirror")  # the next sync does not bring the excluded files back
    assert not [r for r in upstream.requests() if r["path"].startswith("/packages/")]
    assert set(env.package_files()) == set(after)


def test_blocklisted_and_size_filtered_projects(fakepypi_factory: Callable[..., FakePyPI], tmp_path: Path) -> None:
    upstream = fakepypi_factory(projects=8, releases=1, files=2)
    upstream.upload("Big.One", "1.0", files=["sdist", "wheel"], file_size=40_000)
    upstream.upload("Big.Exempt", "1.0", files=["sdist"], file_size=40_000)
    env = MirrorEnv(tmp_path, upstream)
    env.ok("mirror")
    assert {"big-one", "yanked-pkg"} <= env.root_projects()

    env.configure("[blocklist]\npackages =\n    Yanked_Pkg\n    needs-py>=5\n[size]\nmax_file_size = 20K\nallowlist = big.exempt\n")
    doc = env.verify_json(expect=1)
    assert [p["project"] for p in doc["problems"] if p["kind"] == "excluded-project"] == ["yanked-pkg"]
    yanked_files = [p for p in doc["problems"] if p["kind"] == "excluded-project"][0]["files"]
    assert yanked_files == len([p for p in env.package_files() if "/yanked_pkg-" in p]) > 0
    excluded = {Path(p["path"]).name for p in doc["problems"] if p["kind"] == "excluded-file"}
    assert excluded == {"big_one-1.0.tar.gz", "big_one-1.0-py3-none-any.whl", "needs_py-5.0.0.tar.gz",
                        "needs_py-5.0.0-py3-none-any.whl"}
    env.verify_json("--delete", expect=0)
    assert "yanked-pkg" not in env.root_projects()
    assert not (env.web / "simple" / "yanked-pkg").exists()
    assert env.page_files("big-one") == {}
    assert set(env.page_files("big-exempt")) == {"big_exempt-1.0.tar.gz"}
    assert not any(n.startswith("needs_py-5.0.0") for n in env.page_files("needs-py"))
    assert_no_orphans(env.root)


def test_filter_config_error_is_one_line_exit_2(fakepypi: FakePyPI, tmp_path: Path) -> None:
    env = MirrorEnv(tmp_path, fakepypi)
    for section, key in (
        ("[blocklist]\nplatforms = windows beos\n", "[blocklist] platforms"),
        ("[allowlist]\npackages = numpy>=>1\n", "[allowlist] packages"),
        ("[filter_regex]\nreleases = ([\n", "[filter_regex] releases"),
        ("[size]\nmax_file_size = lots\n", "[size] max_file_size"),
        ("[latest_release]\nkeep = -3\n", "[latest_release] keep"),
    ):
        env.configure(section)
        for command in (["mirror"], ["verify"]) if "beos" in section else (["verify", "--delete"],):
            result = env.run(*command)
            assert result.returncode == 2, (section, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"pypi-mirror: config error: {key}: "), lines
            assert not env.root.exists(), "nothing is touched on a config error"


def test_every_documented_platform_keyword_is_accepted_by_the_config(fakepypi: FakePyPI, tmp_path: Path) -> None:
    env = MirrorEnv(tmp_path, fakepypi)
    env.configure("[blocklist]\nplatforms = windows macos linux manylinux musllinux freebsd ios android "
                  "freethreaded pypy py2 py3.7 PY3.8\n")
    result = env.run("verify")
    assert result.returncode == 1 and "no mirror at" in result.stderr, result.stderr
