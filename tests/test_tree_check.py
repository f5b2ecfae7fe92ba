"""The tree invariant the crash tests rely on, judged per format during a run and across formats
at rest (tests/support/tree_check.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror_tool.engine.run import run_mirror
from tests.support.mirror_env import make_config
from tests.support.tree_check import assert_tree_consistent


def test_one_format_ahead_is_consistent_during_a_run_not_at_rest(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url)
    assert run_mirror(cfg).exit_code == 0
    web = cfg.directory / "web" / "simple"
    # The moment between the root's JSON index and its HTML index: a new project is in the JSON
    # index only (its pages, written before either, exist).
    html = (web / "index.html").read_text()
    line = next(l for l in html.splitlines() if 'href="foo-bar/"' in l)
    (web / "index.html").write_text(html.replace(line + "\n", ""))
    assert set(assert_tree_consistent(cfg.directory, settled=False).root_projects) >= {"foo-bar"}
    with pytest.raises(AssertionError, match="list different projects"):
        assert_tree_consistent(cfg.directory)
    # A project page of one format that lists a missing file is broken in any state.
    (web / "index.html").write_text(html)
    page = web / "needs-py" / "index.html"
    page.write_text(page.read_text().replace("../../packages/", "../../packages/x"))
    with pytest.raises(AssertionError, match="missing"):
        assert_tree_consistent(cfg.directory, settled=False)
