"""The config key table (mirror_tool/config/schema.py) against everything derived from it.

Settings fields, the generated example.conf and docs/reference.md, and the role (defaults,
argument_specs, config template) must all agree with the rows; a plugin's rows registered at
runtime are parsed and documented like the built-in ones.
"""

from __future__ import annotations

import re
import sys
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mirror_tool.config import FilterSettings, MirrorSettings, WrapperSettings, parse_config_text
from mirror_tool.config import render, schema
from mirror_tool.config.schema import FILTER_KEYS, MIRROR_KEYS, SAME, WRAPPER_KEYS, Key, all_keys
from mirror_tool.config.values import Integer
from mirror_tool.errors import ConfigError

ROLE = Path(__file__).resolve().parents[1] / "roles" / "pypi_mirror"
BASE = "[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:9\n"
ROLE_ROWS = [row for row in all_keys() if row.role_var]


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
    assert config.section("plugins") is None, "a live [plugins] would switch every filter section off"
    text = render.render_example()
    for row in all_keys():
        if row.explains_only or row.alias_of:
            continue  # bandersnatch keys of no use here: in the reference's compatibility table only
        assert re.search(rf"^[#; ]*(\[{row.section}\] )?{re.escape(row.name)}[ :]", text, re.MULTILINE), row


# --- the role --------------------------------------------------------------------------------

@cache
def _defaults() -> dict[str, Any]:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))


@cache
def _specs() -> dict[str, Any]:
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return specs["argument_specs"]["main"]["options"]


@cache
def _template_keys() -> dict[tuple[str, str], str]:
    """(section, key) -> the right-hand side of each `key = ...` line of the config template."""
    section = ""
    keys: dict[tuple[str, str], str] = {}
    for line in (ROLE / "templates" / "pypi-mirror.conf.j2").read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"\[([a-z_]+)\]", line):
            section = match.group(1)
        elif match := re.match(r"([a-z_-]+) =(.*)", line):
            keys[(section, match.group(1))] = match.group(2)
    return keys


def _as_template_writes(value: Any) -> str:
    """The INI text the config template produces for a role value (b() for bools, items() for lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "".join(f"\n    {item}" for item in value)
    return str(value)


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


@pytest.mark.parametrize("row", ROLE_ROWS, ids=_row_id)
def test_role_default_is_the_schema_default(row: Key) -> None:
    defaults = _defaults()
    assert row.role_var in defaults, f"{row.role_var} missing from defaults/main.yml"
    value = defaults[row.role_var]
    if row.role_default is SAME:
        assert row.type.parse(_as_template_writes(value)) == row.default, (
            f"{row.role_var}: {value!r} is not the tool's default {row.type.render(row.default)!r}")
    else:
        assert value == row.role_default


@pytest.mark.parametrize("row", ROLE_ROWS, ids=_row_id)
def test_argument_spec_matches_the_row(row: Key) -> None:
    spec = _specs().get(row.role_var)
    assert spec is not None, f"{row.role_var} missing from meta/argument_specs.yml"
    assert spec["type"] in row.type.ansible_types, f"{row.role_var}: type {spec['type']} for {row.type.describe()}"
    if spec["type"] == "list":
        assert spec.get("elements") == "str"
    if row.type.choices is not None:
        assert spec.get("choices") == list(row.type.choices)
    if isinstance(row.type, Integer) and spec["type"] == "int":
        assert row.type.lo <= spec.get("default", row.type.lo) <= row.type.hi
    role_value = _defaults()[row.role_var]
    if _is_expression(role_value):
        assert "default" not in spec, f"{row.role_var}: a computed default is described, not listed"
    else:
        assert "default" in spec, f"{row.role_var}: argument_specs must list the default"
        assert spec["default"] == role_value
        assert f"[{row.section}] {row.name}" in spec["description"], "say which key the variable writes"


@pytest.mark.parametrize("row", ROLE_ROWS, ids=_row_id)
def test_template_renders_the_key_from_its_variable(row: Key) -> None:
    line = _template_keys().get((row.section, row.name))
    assert line is not None, f"the config template does not write [{row.section}] {row.name}"
    assert re.search(rf"\b{row.role_var}\b", line), f"[{row.section}] {row.name} is not written from {row.role_var}"


def test_template_writes_only_schema_keys_with_their_variables() -> None:
    for (section, name), line in _template_keys().items():
        row = schema.KEYS.find(section, name)
        assert row is not None and row.role_var, f"the template writes [{section}] {name}, which no row maps"
        assert re.search(rf"\b{row.role_var}\b", line)


def test_no_role_variable_for_keys_with_one_legal_value() -> None:
    """A variable whose only legal value is the default is noise: the role has none."""
    compat_only = [row for row in all_keys() if row.compat_only]
    assert {(r.section, r.name) for r in compat_only} >= {("mirror", "storage-backend"), ("mirror", "cleanup")}
    template_keys = _template_keys()
    for row in compat_only:
        assert (row.section, row.name) not in template_keys
    for name, spec in _specs().items():
        assert len(spec.get("choices", [None, None])) > 1, f"{name} has a single choice"


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


def test_a_provider_module_is_imported_when_its_section_appears(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
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
