"""A new filter is one class: registered, configured from the INI file, applied by sync and verify.

Nothing but the class below is written for it: no other module of mirror_tool changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mirror_tool.config import load_config
from mirror_tool.config.schema import Key
from mirror_tool.config.values import Boolean
from mirror_tool.engine.run import run_mirror
from mirror_tool.errors import ConfigError
from mirror_tool.exitcodes import ExitCode
from mirror_tool.filters import Filter, register, unregister
from mirror_tool.maintenance.verify import verify_tree
from mirror_tool.records import ReleaseFile
from mirror_tool.stop import StopToken
from tests.support.mirror_env import write_config
from tests.support.tree_check import assert_tree_consistent


class NoYanked(Filter):
    """`[yanked] exclude = true`: the mirror keeps no yanked file."""

    section = "yanked"
    plugins = ("exclude_yanked",)
    keys = (Key("yanked", "exclude", Boolean(), False, "true: leave yanked files out of the mirror."),)

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.exclude = values["exclude"]

    @property
    def active(self) -> bool:
        return self.exclude

    def admits_file(self, normalized: str, file: ReleaseFile) -> bool:
        return not file.yanked


@pytest.fixture
def no_yanked() -> Iterator[type[NoYanked]]:
    register(NoYanked)
    yield NoYanked
    unregister(NoYanked)


def _page_files(directory: Path, norm: str) -> dict[str, bool]:
    """filename -> yanked, as the project's PEP 691 page lists them."""
    doc = json.loads((directory / "web" / "simple" / norm / "index.v1_json").read_bytes())
    return {f["filename"]: bool(f["yanked"]) for f in doc["files"]}


def _yanked_anywhere(directory: Path) -> set[str]:
    pages = (directory / "web" / "simple").glob("*/index.v1_json")
    return {name for page in pages for name, flag in _page_files(directory, page.parent.name).items() if flag}


def test_a_new_filter_class_is_configured_and_applied_by_sync_and_verify(no_yanked, fakepypi, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    conf = write_config(tmp_path / "m.conf", tmp_path / "mirror", fp.base_url)
    config = load_config(conf)
    assert run_mirror(config).exit_code == ExitCode.OK
    fp.yank("Foo.Bar", "1.0.0")
    assert run_mirror(config).exit_code == ExitCode.OK
    listed = _page_files(config.directory, "foo-bar")
    yanked = {name for name, flag in listed.items() if flag}
    assert yanked and len(listed) > len(yanked)

    with pytest.raises(ConfigError, match=r"^\[yanked\] exclude: not a boolean"):
        load_config(write_config(conf, config.directory, fp.base_url, extra="[yanked]\nexclude = perhaps\n"))
    config = load_config(write_config(conf, config.directory, fp.base_url, extra="[yanked]\nexclude = true\n"))

    report, code = verify_tree(config, repair=False, delete=False, stop=StopToken())
    excluded = {p.path.rsplit("/", 1)[-1] for p in report.problems if p.kind == "excluded-file"}
    everywhere = _yanked_anywhere(config.directory)
    assert code == ExitCode.FAILED and excluded == everywhere and yanked <= everywhere
    report, code = verify_tree(config, repair=False, delete=True, stop=StopToken())
    assert code == ExitCode.OK and report.deleted_files >= len(everywhere)
    assert set(_page_files(config.directory, "foo-bar")) == set(listed) - yanked
    assert _yanked_anywhere(config.directory) == set()
    assert_tree_consistent(config.directory)

    fp.yank("Needs_Py", "1.0.0")  # the sync applies it to what changes from now on
    assert run_mirror(config).exit_code == ExitCode.OK
    assert not any(_page_files(config.directory, "needs-py").values())
    assert set(_page_files(config.directory, "foo-bar")) == set(listed) - yanked
    report, code = verify_tree(config, repair=False, delete=False, stop=StopToken())
    assert code == ExitCode.OK, report.problems
