"""`pypi-mirror delete NAME... [--dry-run]` against a real sync of tests/fakepypi."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mirror_tool.state import RunState, StaleEntry, StateFiles, Todo
from tests.fakepypi.server import FakePyPI
from tests.support.nginx import nginx_factory  # noqa: F401  (pytest fixture)
from tests.support.tree_check import assert_no_orphans
from tests.test_verify_support import MirrorEnv, synced, template_tree  # noqa: F401  (fixtures)


def _snapshot(web: Path) -> dict[str, str]:
    return {str(p.relative_to(web)): hashlib.sha256(p.read_bytes()).hexdigest() for p in web.rglob("*") if p.is_file()}


def _project_paths(env: MirrorEnv, norm: str) -> set[str]:
    paths = set()
    for name in env.page_files(norm):
        rel = str(env.local_path(norm, name).relative_to(env.web))
        paths.add(rel)
        if (env.web / (rel + ".metadata")).exists():
            paths.add(rel + ".metadata")
    return paths


def test_delete_removes_projects_completely(synced: MirrorEnv, nginx_factory: Any) -> None:  # noqa: F811
    state = StateFiles(synced.root)
    state.write_todo(Todo(999, {"foo-bar": 990, "needs-py": 991}))
    state.write_run_state(RunState(upstream_serial=999, failing={"foo-bar": "boom", "needs-py": "boom"}))
    state.write_stale({"foo-bar": StaleEntry("Foo.Bar", 5, 4, ["/simple/foo-bar/"], 1.0)})
    before = synced.package_files()
    doomed = _project_paths(synced, "foo-bar") | _project_paths(synced, "pre-release")
    assert doomed and doomed <= set(before)

    (synced.web / "last-modified").write_text("20000101T00:00:00\n")
    result = synced.ok("delete", "Foo.Bar", "PRE_RELEASE")
    assert (synced.web / "last-modified").read_text() != "20000101T00:00:00\n"
    assert "deleted project: foo-bar" in result.stdout and "deleted project: pre-release" in result.stdout
    freed = sum(before[p] for p in doomed)
    assert f"deleted 2 projects, {len(doomed)} files, {freed} bytes" in result.stdout

    assert synced.root_projects().isdisjoint({"foo-bar", "pre-release"})
    assert 'href="foo-bar/"' not in (synced.web / "simple" / "index.html").read_text()
    for norm in ("foo-bar", "pre-release"):
        assert not (synced.web / "simple" / norm).exists()
        assert not (synced.web / "pypi" / norm).exists()
        assert not (synced.web / "json" / norm).exists()
    assert set(before) - set(synced.package_files()) == doomed
    assert state.read_todo().projects == {"needs-py": 991}
    assert state.read_run_state().failing == {"needs-py": "boom"}
    assert state.read_stale() == {}
    assert_no_orphans(synced.root)
    synced.verify_json(expect=0)

    server = nginx_factory(synced.web)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server.base_url}/simple/foo-bar/", timeout=10)
    assert info.value.code == 404
    with urllib.request.urlopen(f"{server.base_url}/simple/", timeout=10) as resp:
        served = resp.read()
    assert b'href="foo-bar/"' not in served and b'href="needs-py/"' in served


def test_delete_dry_run_changes_nothing(synced: MirrorEnv) -> None:
    before = _snapshot(synced.root)
    result = synced.ok("delete", "--dry-run", "foo-bar")
    assert "would delete project: foo-bar" in result.stdout
    for rel in _project_paths(synced, "foo-bar"):
        assert f"would delete file: {rel}" in result.stdout
    assert _snapshot(synced.root) == before


def test_delete_unknown_name_is_a_no_op_and_bad_name_is_exit_2(synced: MirrorEnv) -> None:
    before = _snapshot(synced.root)
    result = synced.ok("delete", "no-such-project")
    assert "not in the mirror: no-such-project" in result.stdout
    assert _snapshot(synced.root) == before

    result = synced.run("delete", "../../etc")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["pypi-mirror: delete: not a valid project name: '../../etc'"]
    assert _snapshot(synced.root) == before


def test_delete_in_html_only_mirror_rewrites_the_html_index(fakepypi: FakePyPI, tmp_path: Path) -> None:
    env = MirrorEnv(tmp_path, fakepypi, simple_format="HTML")
    env.ok("mirror")
    index = env.web / "simple" / "index.html"
    assert 'href="foo-bar/"' in index.read_text()
    env.ok("delete", "foo_bar")
    assert 'href="foo-bar/"' not in index.read_text()
    assert 'href="needs-py/"' in index.read_text()
    assert not (env.web / "simple" / "index.v1_json").exists()
    assert not (env.web / "simple" / "foo-bar").exists()
    assert_no_orphans(env.root)


def test_deleted_project_comes_back_only_if_admitted(synced: MirrorEnv, fakepypi: FakePyPI) -> None:
    synced.ok("delete", "foo-bar")
    synced.configure("[blocklist]\npackages = foo-bar\n", reconcile_interval=0)
    synced.ok("mirror")
    assert "foo-bar" not in synced.root_projects()
    synced.configure("", reconcile_interval=0)
    assert "[blocklist]" not in synced.conf.read_text()
    synced.ok("mirror")
    assert "foo-bar" in synced.root_projects(), "reconciliation restores a project upstream still has"
    assert json.loads((synced.web / "simple" / "foo-bar" / "index.v1_json").read_bytes())["files"]
