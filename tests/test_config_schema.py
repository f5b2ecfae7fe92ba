"""The config key table (mirror_tool/config/schema.py) against everything derived from it.

Settings fields, the generated example.conf and docs/reference.md, and the role (defaults,
argument_specs, config template) must all agree with the rows; a plugin's rows registered at
runtime are parsed and documented like the built-in ones.
"""

from __future__ import annotations

import re
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from mirror_tool.config import FilterSettings, MirrorSettings, WrapperSettings, parse_config_text
from mirror_tool.config import render, schema
from mirror_tool.config.schema import FILTER_KEYS, MIRROR_KEYS, WRAPPER_KEYS, Key, all_keys
from mirror_tool.config.values import Integer
from mirror_tool.errors import ConfigError

BASE = "[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:9\n"


def _row_id(row: Key) -> str:
    return f"{row.section}.{row.name}"


@pytest.mark.parametrize(("cls", "rows"), [(MirrorSettings, MIRROR_KEYS), (WrapperSettings, WRAPPER_KEYS),
                                           (FilterSettings, FILTER_KEYS)], ids=lambda v: getattr(v, "__name__", ""))
def test_settings_fields_are_the_schema_rows(cls: type, rows: tuple[Key, ...]) -> None:
    """Defaults live in the rows only: each field is one row's attribute, with that row's default."""
    names = {f.name for f in fields(cls)} - {"sections"}
    assert names == {row.attr for row in rows if row.attr}
    defaults = {f.name: f.default for f in fields(cls)}
    for row in rows:
        if not row.required:
            assert defaults[row.attr] == row.default, row.name


@pytest.mark.parametrize("row", all_keys(), ids=_row_id)
def test_every_row_round_trips_and_is_documented(row: Key) -> None:
    assert row.doc and row.type.describe()
    if not row.required:
        assert row.type.parse(row.type.render(row.default)) == row.default
    if row.example is not None:
        row.type.parse(row.example)
    if row.compat_only:
        assert row.role_var is None, "a key that changes nothing needs no role variable"


@pytest.mark.parametrize("path", list(render.targets()), ids=lambda p: p.name)
def test_generated_file_is_current(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == render.targets()[path], (
        f"{path} is stale: run `make docs` (python -m mirror_tool.config.render --write)")


def test_the_example_sets_what_an_operator_must_review() -> None:
    config = parse_config_text(render.render_example(), Path("example.conf"))
    assert str(config.mirror.directory) == "/srv/pypi-mirror"
    assert config.mirror.master == "https://upstream.invalid"
    assert config.filters.sections == frozenset(), "filter sections must be commented out"
    text = render.render_example()
    for row in all_keys():
        assert re.search(rf"^[#; ]*(\[{row.section}\] )?{re.escape(row.name)}[ :]", text, re.MULTILINE), row


# --- a plugin's own rows ----------------------------------------------------------------------

PLUGIN_ROWS = (
    Key("example_filter", "keep-newest", Integer(0, 9), 2, "How many to keep (test plugin).", attr="keep_newest"),
)


def test_registered_rows_are_parsed_checked_and_documented() -> None:
    schema.register_keys(PLUGIN_ROWS)
    try:
        config = parse_config_text(BASE + "[example_filter]\nkeep-newest = 5\n", Path("x.conf"))
        assert config.section("example_filter") == {"keep-newest": 5}
        assert "example_filter" in config.filters.sections
        assert config.section("size") is None
        with pytest.raises(ConfigError, match=r"^\[example_filter\] keep-newest: must be an integer in 0..9"):
            parse_config_text(BASE + "[example_filter]\nkeep-newest = 10\n", Path("x.conf"))
        with pytest.raises(ConfigError, match=r"^\[example_filter\] other: unknown key"):
            parse_config_text(BASE + "[example_filter]\nother = 1\n", Path("x.conf"))
        assert "## `[example_filter]`" in render.render_reference()
        assert "# keep-newest = 2" in render.render_example()
        with pytest.raises(ValueError, match="declared twice"):
            schema.register_keys([Key("example_filter", "keep-newest", Integer(0, 1), 0, "other")])
    finally:
        schema.KEYS.remove(PLUGIN_ROWS)
    with pytest.raises(ConfigError, match=r"^\[example_filter\]: unknown section"):
        parse_config_text(BASE + "[example_filter]\nkeep-newest = 5\n", Path("x.conf"))


def test_a_provider_module_is_imported_when_its_section_appears(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A section the table does not know yet makes the loader import the PROVIDERS once."""
    (tmp_path / "example_provider.py").write_text(
        "from mirror_tool.config.schema import Key, register_keys\n"
        "from mirror_tool.config.values import Boolean\n"
        "ROWS = (Key('provided', 'on', Boolean(), False, 'Test provider key.', attr='on'),)\n"
        "register_keys(ROWS)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(schema, "PROVIDERS", ("example_provider",))
    monkeypatch.setattr(schema.KEYS, "_providers_loaded", False)
    try:
        config = parse_config_text(BASE + "[provided]\non = yes\n", Path("x.conf"))
        assert config.section("provided") == {"on": True}
    finally:
        schema.KEYS.remove(sys.modules["example_provider"].ROWS)
        del sys.modules["example_provider"]
