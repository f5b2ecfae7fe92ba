"""Generate `mirror_tool/example.conf` and `docs/reference.md` from the key table.

`python -m mirror_tool.config.render --write` (or `make docs`) rewrites both; `--check` exits 1
when a committed file differs from what the table gives (tests/test_config_schema.py does the same).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from mirror_tool.config.loader import EXAMPLE_CONFIG
from mirror_tool.config.schema import CORE_SECTIONS, SAME, Key, all_keys

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
WIDTH = 100

EXAMPLE_HEADER = """\
# pypi-mirror configuration (INI). Review every value, then run `pypi-mirror mirror`.
# Key names and meanings follow bandersnatch's where the concept is shared, so a bandersnatch
# config can be copied here. Unknown keys are an error. Booleans: true/false, yes/no, on/off, 1/0.
# Lists are separated by whitespace or newlines. `pypi-mirror check-config PATH` checks a file.
# Every key, with its type and default: docs/reference.md.
"""

REFERENCE_HEADER = """\
# Config reference

<!-- Generated from mirror_tool/config/schema.py by `make docs`; edit the schema, not this file. -->

One INI file, default `/etc/pypi-mirror.conf`, read by both `pypi-mirror` and `pypi-mirror-run`
(`-c PATH` for another). Key names and meanings follow bandersnatch where the concept is shared.
A missing file is replaced by the commented example (`mirror_tool/example.conf`) and the command
exits 2. Any problem (unknown section or key, wrong type, out-of-range value, a key given twice, a
`[DEFAULT]` section) is one line on stderr, `pypi-mirror: config error: [section] key: problem`,
and exit 2, before anything is touched. `pypi-mirror check-config PATH` runs the same checks and
nothing else (exit 0 and no output when the file is valid; warnings, if any, on stderr). A key read
with a meaning worth knowing (a bandersnatch spelling, a bandersnatch key that changes nothing
here, a filter plugin that does less than bandersnatch 8.2.0 would) gives one warning line per run,
`config: [section] key: ...`; every bandersnatch 8.2.0 key is in the
[compatibility table](#bandersnatch-820-compatibility).

The file is read as bandersnatch reads it: `=` is the only delimiter (`key: value` is not an
assignment; metadata-filter keys contain `:`), `%%` is a literal `%` and `%(key)s` is another key
of the same section (a `%` followed by anything else stays as written). Key names are
case-insensitive, except the `[tags:]dotted.path` keys of the metadata filters; section names are
case-sensitive. Values are stripped. Booleans: `true/false`, `yes/no`, `on/off`, `1/0`. Lists:
whitespace or newline separated (continuation lines indented); `[plugins] enabled`, regexes,
versions and file names: one per line. "Role variable" is the `pypi_mirror` role variable that
writes the key (its default is the tool's unless shown).
"""

SECTION_INTRO = {
    "mirror": "Required section.",
    "wrapper": "Optional section, read by `pypi-mirror-run` only (ours: bandersnatch has no such section).",
    "plugins": "bandersnatch's filter plugin list (see the compatibility table for `all`).",
}
FILTER_INTRO = "Filter section: applies when present in the file."
COMPAT_NOTE = "Keys that change nothing here (leave them out):"


def _default_text(row: Key) -> str:
    if row.required:
        return "required"
    text = " ".join(row.type.render(row.default).split())
    return text or "empty"


def _comment(text: str, prefix: str) -> list[str]:
    return [prefix + line for line in textwrap.wrap(text, WIDTH - len(prefix), break_on_hyphens=False)]


def _example_value(row: Key) -> str:
    if row.example is not None:
        return row.example
    if row.required:
        raise ValueError(f"[{row.section}] {row.name} is required: give its row an example value")
    return row.type.render(row.default)


def _example_section(section: str, rows: tuple[Key, ...]) -> list[str]:
    """One section of the example; filter sections are commented out (present = applied)."""
    live = section in CORE_SECTIONS and section != "plugins"  # [plugins] present changes which filters run
    off = "" if live else "# "
    lines: list[str] = []
    settable = [row for row in rows if not row.compat_only]
    if settable:
        lines.append(f"{off}[{section}]")
    for row in settable:
        if row.required:
            kind = f"{row.type.describe()}, required"
        else:
            kind = f"{row.type.describe()}; default {_default_text(row)}"
        lines += _comment(f"{row.doc} ({kind})", f"{off}; ")
        value = _example_value(row)
        head = f"{row.name} = " + value.split("\n", 1)[0]
        lines.append(off + head.rstrip())
        lines += [off + line for line in value.split("\n")[1:]]
    compat = [row for row in rows if row.compat_only]
    if compat:
        lines += _comment(COMPAT_NOTE, "; ")
        for row in compat:
            where = "" if settable else f"[{section}] "
            lines += _comment(f"{where}{row.name}: {row.doc}", ";   ")
    return lines


def _grouped() -> dict[str, tuple[Key, ...]]:
    """Our keys by section: rows that only explain a bandersnatch key, and bandersnatch spellings
    of our keys, are in the compatibility table (compat_table.py) instead."""
    groups: dict[str, list[Key]] = {}
    for row in all_keys():
        if not row.explains_only and row.alias_of is None:
            groups.setdefault(row.section, []).append(row)
    return {section: tuple(rows) for section, rows in groups.items()}


def render_example() -> str:
    """The commented example config the CLIs write where a config is missing."""
    out = EXAMPLE_HEADER.splitlines()
    groups = _grouped()
    for section in ("mirror", "wrapper"):
        out += ["", *_example_section(section, groups[section])]
    out += [
        "",
        "# Filters (bandersnatch section and key names). Without a [plugins] section a filter section applies",
        '# when it is present: remove the leading "# " of the sections you want. With [plugins], only the',
        "# plugins listed in `enabled` run (bandersnatch's rule).",
    ]
    for section, rows in groups.items():
        if section not in ("mirror", "wrapper"):
            out += ["", *_example_section(section, rows)]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _role_cell(row: Key) -> str:
    if row.role_var is None:
        return ""
    if row.role_default is SAME:
        return f"`{row.role_var}`"
    return f"`{row.role_var}` (role default: `{row.role_default}`)"


def render_reference() -> str:
    """docs/reference.md: one table per section, then the bandersnatch 8.2.0 compatibility table."""
    from mirror_tool.config.compat_table import render_compat_table, section_intro

    out = REFERENCE_HEADER.splitlines()
    for section, rows in _grouped().items():
        intro = SECTION_INTRO.get(section) or section_intro(section)
        out += ["", f"## `[{section}]`", "", intro, "",
                "| key | type | default | meaning | role variable | bandersnatch |",
                "| --- | --- | --- | --- | --- | --- |"]
        for row in rows:
            default = "**required**" if row.required else f"`{_default_text(row)}`"
            if default == "`empty`":
                default = "empty"
            cells = [f"`{row.name}`", row.type.describe(), default, row.doc, _role_cell(row), row.compat]
            out.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    out += ["", *render_compat_table()]
    return "\n".join(out) + "\n"


def targets() -> dict[Path, str]:
    """Each generated file and the text it must hold."""
    from mirror_tool.config.compat_table import INVENTORY, render_inventory

    return {EXAMPLE_CONFIG: render_example(), REFERENCE: render_reference(), INVENTORY: render_inventory()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mirror_tool.config.render", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated files")
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    args = parser.parse_args(argv)
    stale = [path for path, text in targets().items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"stale: {path} (run `make docs`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets()[path], encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
