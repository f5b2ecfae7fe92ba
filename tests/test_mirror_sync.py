"""Full and incremental syncs against tests/fakepypi: layout, pages, state, change feed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mirror_tool.config import Config
from mirror_tool.exitcodes import ExitCode
from mirror_tool.engine.run import SyncResult, run_mirror, run_sync
from tests.support.mirror_env import make_config
from tests.support.tree_check import assert_tree_consistent, files_on_disk, sha256_of
from tests.support.upstream_compare import assert_mirror_matches, assert_only_listed_files


def mirror(cfg: Config) -> SyncResult:
    return run_mirror(cfg)


def xmlrpc_calls(fp) -> list[dict]:  # type: ignore[no-untyped-def]
    return [r for r in fp.requests() if r["method"] == "POST"]


def test_full_sync_layout_pages_and_state(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url)
    result = mirror(cfg)
    assert result.exit_code == ExitCode.OK, result
    assert result.mirror_serial == result.upstream_serial == fakepypi.last_serial
    assert len(result.synced) == 8 and not result.failed and not result.stale
    assert result.files_downloaded > 0 and result.bytes_downloaded > 0
    d = cfg.directory
    report = assert_mirror_matches(fakepypi, d)
    assert_only_listed_files(d, report)
    # display names in the root index, normalized directories
    assert report.root_projects["foo-bar"] == "Foo.Bar"
    assert report.root_projects["dup-name"] == "dup.name"
    assert sorted(p.name for p in (d / "web" / "simple").iterdir() if p.is_dir()) == sorted(report.projects)
    # state lives beside web/, never inside it
    assert (d / "generation").read_text().strip() == "5"
    assert (d / "status").read_text().strip() == str(fakepypi.last_serial)
    assert not (d / "todo").exists()
    stale = json.loads((d / "stale.json").read_text())
    assert stale["projects"] == {} and isinstance(stale["generated"], float)
    state = json.loads((d / "state.json").read_text())
    assert state["upstream_serial"] == fakepypi.last_serial and state["failing"] == {}
    for key in ("last_success", "last_run_start", "last_run_end", "last_reconcile"):
        assert isinstance(state[key], float)
    assert sorted(p.name for p in (d / "web").iterdir()) == ["changes", "last-modified", "packages", "simple"]
    assert list((d / "tmp").iterdir()) == []
    # PEP 503/592/629/658 HTML details
    html = (d / "web/simple/needs-py/index.html").read_text()
    assert 'data-requires-python="&gt;=3.8"' in html and 'data-requires-python="&lt;3"' in html
    assert f"<!--SERIAL {report.projects['needs-py'].serial}-->" in html
    assert 'href="../../packages/' in html and "#sha256=" in html
    assert 'data-core-metadata="sha256=' in html and 'data-dist-info-metadata="sha256=' in html
    assert (d / "web/simple/needs-py/index.v1_html").read_text() == html
    yanked = (d / "web/simple/yanked-pkg/index.html").read_text()
    assert 'data-yanked="broken build"' in yanked
    assert 'data-yanked=""' in (d / "web/simple/foo-bar-baz/index.html").read_text()
    # PEP 691/700/714 JSON details
    doc = json.loads((d / "web/simple/yanked-pkg/index.v1_json").read_text())
    assert doc["meta"]["_last-serial"] == report.projects["yanked-pkg"].serial
    assert doc["name"] == "yanked-pkg" and "9.0.0" in doc["versions"]
    by_name = {f["filename"]: f for f in doc["files"]}
    wheel = next(f for n, f in by_name.items() if n.endswith(".whl") and "9.0.0" in n)
    assert wheel["yanked"] == "broken build" and isinstance(wheel["size"], int)
    assert wheel["upload-time"].endswith("Z") and wheel["core-metadata"]["sha256"]
    sdist = next(f for n, f in by_name.items() if n.endswith(".tar.gz") and "1.0.0" in n)
    assert sdist["yanked"] is False and sdist["core-metadata"] is False
    root = json.loads((d / "web/simple/index.v1_json").read_text())
    assert root["meta"]["_last-serial"] == fakepypi.last_serial
    assert {p["name"] for p in root["projects"]} >= {"Foo.Bar", "Needs_Py"}
    # the project without releases (JSON API 404) is still listed, with an empty page
    assert report.projects["empty-project"].files == {}
    # files at packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>, .metadata beside wheels
    info = fakepypi.project("Foo.Bar")
    f = next(iter(info["releases"].values()))["files"][0]
    local = d / "web" / f["path"].lstrip("/")
    assert sha256_of(local) == f["sha256"]
    if f["metadata_sha256"]:
        assert sha256_of(local.with_name(local.name + ".metadata")) == f["metadata_sha256"]


def test_noop_run_is_one_small_xmlrpc_call(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url)
    assert mirror(cfg).exit_code == ExitCode.OK
    before = {p: p.stat().st_mtime_ns for p in (cfg.directory / "web").rglob("*") if p.is_file()}
    fakepypi.clear_log()
    result = mirror(cfg)
    assert result.exit_code == ExitCode.OK and result.synced == [] and result.files_downloaded == 0
    reqs = fakepypi.requests()
    assert len(reqs) == 1 and reqs[0]["method"] == "POST" and reqs[0]["bytes"] < 1000, reqs
    assert fakepypi.xmlrpc.calls[-1][1] == "changelog_since_serial"
    after = {p: p.stat().st_mtime_ns for p in (cfg.directory / "web").rglob("*") if p.is_file()}
    assert after == before  # nothing in web/ rewritten


def test_incremental_upload_yank_unyank_and_removals(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url)
    assert mirror(cfg).exit_code == ExitCode.OK
    d = cfg.directory
    fp = fakepypi
    # upload a release and a new project
    fp.upload("Foo.Bar", "3.0.0", platforms=["manylinux"])
    fp.upload("Brand_New", "0.1")
    # yank with a reason, yank then unyank
    fp.yank("Pre.Release", "1.0.0", "security <issue>")
    fp.yank("Needs_Py", "1.1.0")
    fp.unyank("Needs_Py", "1.1.0")
    fp.unyank("foo_bar-baz", "1.0.0")
    fp.clear_log()
    result = mirror(cfg)
    assert result.exit_code == ExitCode.OK
    assert set(result.synced) == {"foo-bar", "brand-new", "pre-release", "needs-py", "foo-bar-baz"}
    # only changed projects are fetched
    fetched = {r["path"] for r in fp.requests() if r["path"].startswith("/pypi/")}
    assert fetched == {f"/pypi/{n}/json" for n in result.synced}
    report = assert_mirror_matches(fp, d)
    assert 'data-yanked="security &lt;issue&gt;"' in (d / "web/simple/pre-release/index.html").read_text()
    assert report.projects["foo-bar-baz"].yanked == {}
    # file, release and project removals delete pages / files (delete-packages defaults to true)
    files_before = files_on_disk(d)
    victim_file = next(iter(fp.project("Foo.Bar")["releases"]["1.0.0"]["files"]))["filename"]
    fp.remove_file("Foo.Bar", victim_file)
    fp.remove_release("Plat_Wheels", "1.0.0")
    fp.remove_project("Yanked-Pkg")
    result = mirror(cfg)
    assert result.exit_code == ExitCode.OK
    report = assert_mirror_matches(fp, d)
    assert_only_listed_files(d, report)
    assert "yanked-pkg" not in report.root_projects
    assert not (d / "web/simple/yanked-pkg").exists()
    assert not any(victim_file in p for p in files_on_disk(d))
    assert len(files_on_disk(d)) < len(files_before)
    # a display-name change that keeps the normalized name
    fp.remove_project("Needs_Py")
    fp.upload("needs.py", "7.0")
    result = mirror(cfg)
    assert result.exit_code == ExitCode.OK
    report = assert_mirror_matches(fp, d)
    assert report.root_projects["needs-py"] == "needs.py"
    assert "Links for needs.py" in (d / "web/simple/needs-py/index.html").read_text()
    assert_only_listed_files(d, report)


def test_delete_packages_off_keeps_files(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url, delete_packages=False)
    assert mirror(cfg).exit_code == ExitCode.OK
    before = files_on_disk(cfg.directory)
    fakepypi.remove_release("Foo.Bar", "1.0.0")
    fakepypi.remove_project("Yanked-Pkg")
    assert mirror(cfg).exit_code == ExitCode.OK
    report = assert_mirror_matches(fakepypi, cfg.directory)
    assert "yanked-pkg" not in report.projects  # dropped from the index...
    assert files_on_disk(cfg.directory) == before  # ...but no file deleted


def test_changelog_paging_across_the_cap(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8, changelog_cap=7)
    cfg = make_config(tmp_path, fp.base_url)
    assert mirror(cfg).exit_code == ExitCode.OK
    for i in range(12):
        fp.upload(f"paged-{i}", "1.0", files=["wheel"])  # 3 journal rows each
    fp.xmlrpc.calls.clear()
    result = mirror(cfg)
    assert result.exit_code == ExitCode.OK
    assert len(result.synced) == 12
    calls = [m for _, m in fp.xmlrpc.calls if m == "changelog_since_serial"]
    assert len(calls) >= 36 // 7 + 1
    assert_mirror_matches(fp, cfg.directory)


@pytest.mark.parametrize("mode", ["fault", "404"])
def test_xmlrpc_disabled_falls_back_to_index_diff_with_the_same_tree(tmp_path: Path, fakepypi, mode: str) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    ref = make_config(tmp_path, fp.base_url, name="ref")
    fallback = make_config(tmp_path, fp.base_url, name="fallback")
    assert mirror(ref).exit_code == ExitCode.OK
    fp.set_xmlrpc(mode)
    assert mirror(fallback).exit_code == ExitCode.OK  # full sync via /simple/
    fp.set_xmlrpc("on")
    fp.upload("Foo.Bar", "4.0")
    fp.yank("Pre.Release", "1.1.0", "why")
    fp.remove_project("Plat_Wheels")
    fp.upload("Fresh.One", "1.0")
    assert mirror(ref).exit_code == ExitCode.OK
    fp.set_xmlrpc(mode)
    fp.clear_log()
    result = mirror(fallback)
    assert result.exit_code == ExitCode.OK
    assert set(result.synced) == {"foo-bar", "pre-release", "plat-wheels", "fresh-one"}
    a = assert_mirror_matches(fp, ref.directory)
    b = assert_mirror_matches(fp, fallback.directory)
    assert {n: (p.files, p.yanked, p.serial) for n, p in a.projects.items()} == {
        n: (p.files, p.yanked, p.serial) for n, p in b.projects.items()
    }
    assert files_on_disk(ref.directory) == files_on_disk(fallback.directory)
    for page in ("index.html", "index.v1_json"):
        assert (ref.directory / "web/simple" / page).read_bytes() == (fallback.directory / "web/simple" / page).read_bytes()


def test_forced_sources(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    by_index = make_config(tmp_path, fp.base_url, name="idx", changelog_source="index")
    assert mirror(by_index).exit_code == ExitCode.OK
    assert not [c for c in fp.xmlrpc.calls]  # never asked XML-RPC
    fp.upload("Foo.Bar", "5.0")
    assert mirror(by_index).exit_code == ExitCode.OK
    assert_mirror_matches(fp, by_index.directory)
    fp.set_xmlrpc("fault")
    forced = make_config(tmp_path, fp.base_url, name="rpc", changelog_source="xmlrpc")
    result = mirror(forced)
    assert result.exit_code == ExitCode.UNREACHABLE
    assert not (forced.directory / "web/simple/index.html").exists()


def test_reconciliation_catches_what_the_changelog_missed(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url, reconcile_interval=0)
    assert mirror(cfg).exit_code == ExitCode.OK
    # the mirror lost a project page (operator error); reconciliation (every run here) restores it
    import shutil

    shutil.rmtree(cfg.directory / "web/simple/foo-bar")
    root = json.loads((cfg.directory / "web/simple/index.v1_json").read_text())
    root["projects"] = [p for p in root["projects"] if p["name"] != "Foo.Bar"]
    (cfg.directory / "web/simple/index.v1_json").write_text(json.dumps(root))
    result = mirror(cfg)
    assert result.exit_code == ExitCode.OK and result.synced == ["foo-bar"]
    assert_mirror_matches(fakepypi, cfg.directory)


def test_json_copies_root_uri_and_formats(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, json=True)
    assert mirror(cfg).exit_code == ExitCode.OK
    d = cfg.directory
    a = json.loads((d / "web/pypi/foo-bar/json").read_text())
    b = json.loads((d / "web/json/foo-bar").read_text())
    assert a == b and a["info"]["name"] == "Foo.Bar"
    for files in a["releases"].values():
        for f in files:
            assert f["url"].startswith("/packages/")
            assert sha256_of(d / "web" / f["url"].lstrip("/")) == f["digests"]["sha256"]
    fp.remove_project("Foo.Bar")
    assert mirror(cfg).exit_code == ExitCode.OK
    assert not (d / "web/pypi/foo-bar/json").exists() and not (d / "web/json/foo-bar").exists()

    cfg2 = make_config(tmp_path, fp.base_url, name="rooted", json=True, root_uri="https://mirror.invalid/pypi", simple_format="HTML")
    assert mirror(cfg2).exit_code == ExitCode.OK
    d2 = cfg2.directory
    assert_mirror_matches(fp, d2, root_uri="https://mirror.invalid/pypi")
    assert not (d2 / "web/simple/needs-py/index.v1_json").exists() and not (d2 / "web/simple/index.v1_json").exists()
    assert 'href="https://mirror.invalid/pypi/packages/' in (d2 / "web/simple/needs-py/index.html").read_text()
    doc = json.loads((d2 / "web/json/needs-py").read_text())
    assert all(f["url"].startswith("https://mirror.invalid/pypi/packages/") for f in doc["urls"])
    fp.upload("Needs_Py", "8.0")
    assert mirror(cfg2).exit_code == ExitCode.OK  # incremental with HTML-only pages
    assert_mirror_matches(fp, d2, root_uri="https://mirror.invalid/pypi")

    cfg3 = make_config(tmp_path, fp.base_url, name="jsononly", simple_format="JSON")
    assert mirror(cfg3).exit_code == ExitCode.OK
    assert not (cfg3.directory / "web/simple/needs-py/index.html").exists()
    assert_mirror_matches(fp, cfg3.directory)


def test_release_files_off_points_at_upstream(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url, release_files=False)
    assert mirror(cfg).exit_code == ExitCode.OK
    assert files_on_disk(cfg.directory) == set()
    html = (cfg.directory / "web/simple/foo-bar/index.html").read_text()
    assert f'href="{fakepypi.base_url}/packages/' in html
    report = assert_tree_consistent(cfg.directory)
    assert report.projects["foo-bar"].files


def test_existing_files_are_skipped_and_corrupt_ones_replaced(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url)
    assert mirror(cfg).exit_code == ExitCode.OK
    info = fp.project("Foo.Bar")
    f = info["releases"]["1.0.0"]["files"][0]
    local = cfg.directory / "web" / f["path"].lstrip("/")
    local.write_bytes(b"corrupt")
    fp.clear_log()
    result = run_sync(cfg, ["Foo.Bar"])
    assert result.exit_code == ExitCode.OK and result.synced == ["foo-bar"]
    downloads = [r["path"] for r in fp.requests() if r["path"].startswith("/packages/") and not r["path"].endswith(".metadata")]
    assert downloads == [f["path"]]  # only the corrupt one, the others were verified by hash
    assert sha256_of(local) == f["sha256"]
    # compare-method = stat trusts the size only
    stat_cfg = make_config(tmp_path, fp.base_url, name="mirror", compare_method="stat")
    fp.clear_log()
    assert run_sync(stat_cfg, ["Foo.Bar"]).exit_code == ExitCode.OK
    assert not [r for r in fp.requests() if r["path"].startswith("/packages/")]


def test_run_sync_unknown_and_removed_projects(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url)
    assert mirror(cfg).exit_code == ExitCode.OK
    result = run_sync(cfg, ["does-not-exist", "Foo.Bar"])
    assert result.exit_code == ExitCode.OK and set(result.synced) == {"does-not-exist", "foo-bar"}
    fakepypi.remove_project("Foo.Bar")
    result = run_sync(cfg, ["FOO_BAR"])
    assert result.exit_code == ExitCode.OK
    assert not (cfg.directory / "web/simple/foo-bar").exists()
    report = assert_tree_consistent(cfg.directory)
    assert "foo-bar" not in report.root_projects
    result = run_sync(cfg, ["../etc"])
    assert result.exit_code == ExitCode.FAILED and "../etc" in result.failed


def test_switching_formats_leaves_no_stale_page_kind(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url, json=True)
    assert mirror(cfg).exit_code == ExitCode.OK
    html_only = make_config(tmp_path, fp.base_url, simple_format="HTML", json=False)
    fp.remove_release("Foo.Bar", "1.0.0")
    assert mirror(html_only).exit_code == ExitCode.OK
    d = cfg.directory
    assert not (d / "web/simple/foo-bar/index.v1_json").exists()
    assert not (d / "web/json/foo-bar").exists() and not (d / "web/pypi/foo-bar/json").exists()
    assert not (d / "web/simple/index.v1_json").exists()
    report = assert_mirror_matches(fp, d)
    assert report.root_projects["foo-bar"] == "Foo.Bar"


def test_sync_before_the_first_mirror_run_keeps_the_full_sync(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url)
    result = run_sync(cfg, ["Foo.Bar"])
    assert result.exit_code == ExitCode.OK and result.synced == ["foo-bar"]
    assert not (cfg.directory / "status").exists()
    assert set(assert_tree_consistent(cfg.directory).root_projects) == {"foo-bar"}
    fakepypi.xmlrpc.calls.clear()
    assert mirror(cfg).exit_code == ExitCode.OK
    assert "list_packages_with_serial" in [m for _, m in fakepypi.xmlrpc.calls]
    assert_mirror_matches(fakepypi, cfg.directory)


def test_noop_run_does_not_load_requests(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    """A no-op is one XML-RPC call through the net layer: `requests` (a test tool only) stays unloaded."""
    import subprocess
    import sys

    from tests.support.mirror_env import cli_env

    cfg = make_config(tmp_path, fakepypi.base_url)
    assert mirror(cfg).exit_code == ExitCode.OK
    code = (
        "import sys; from mirror_tool.config import load_config; from mirror_tool.engine.run import run_mirror; "
        f"r = run_mirror(load_config({str(cfg.path)!r})); "
        "print(int(r.exit_code), 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=60)
    assert out.stdout.split() == ["0", "False"], out.stderr
