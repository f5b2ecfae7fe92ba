"""The bandersnatch 8.2.0 compatibility table (docs/reference.md) and the `our_*` columns of
docs/bandersnatch-8.2.0-keys.tsv, both generated from the key table.

The TSV's first four columns (section, key, type, default) are the inventory of bandersnatch
8.2.0, kept by hand; the last three (our_status, our_key, note) say where this tool stands and are
rewritten from the rows by `make docs`. tests/test_bandersnatch_keys.py holds the two together: every
bandersnatch key has a row, and every row that names a bandersnatch status is a key of the inventory.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mirror_tool.config.compat import SECTION_HINTS, Ignored, Refused, compat_status
from mirror_tool.config.schema import Key, all_keys

INVENTORY = Path(__file__).resolve().parents[2] / "docs" / "bandersnatch-8.2.0-keys.tsv"
COLUMNS = ("section", "key", "type", "default", "our_status", "our_key", "note")
#: Sections of ours (bandersnatch has none of that name).
OURS = frozenset({"wrapper", "filters", "size"})


def inventory_facts() -> list[dict[str, str]]:
    """The hand-kept columns of the inventory, one dict per bandersnatch key, in file order."""
    with open(INVENTORY, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [{k: row[k] for k in COLUMNS[:4]} for row in rows]


def row_for(section: str, key: str) -> Key | None:
    """The row standing for bandersnatch's `[section] key` (its name, or its template)."""
    for row in all_keys():
        if row.section == section and row.name == key.lower():
            return row
    return None


def status_of(row: Key) -> str:
    """The row's compatibility status; rows of our own sections without a note are ours."""
    status = compat_status(row.compat)
    if not status and not row.compat and row.section in OURS:
        return "ours"
    return status


def _note(row: Key) -> str:
    text = row.compat
    status = compat_status(text)
    rest = text[len(status):].lstrip(":;, ").strip()
    return " ".join(rest.split())


def _our_key(row: Key, status: str) -> str:
    if row.alias_of is not None:
        return row.alias_of
    return row.name if status in ("same", "different") else ""


def render_inventory() -> str:
    """docs/bandersnatch-8.2.0-keys.tsv with its `our_*` columns from the key table."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, quotechar=None)
    writer.writerow(COLUMNS)
    for fact in inventory_facts():
        row = row_for(fact["section"], fact["key"])
        if row is None:
            status, our_key, note = "missing", "", "no row in mirror_tool/config/schema.py"
        else:
            status = status_of(row).replace(" ", "-")
            our_key, note = _our_key(row, status), _note(row)
        writer.writerow([fact[c] for c in COLUMNS[:4]] + [status, our_key, note.replace("\t", " ")])
    return out.getvalue()


def _here(row: Key) -> str:
    status = status_of(row)
    if row.alias_of is not None:
        return f"{status}: read as `{row.alias_of}`"
    if isinstance(row.type, Refused):
        return f"{status}: error (exit 2) unless empty"
    if isinstance(row.type, Ignored):
        return f"{status}: accepted{', one warning' if row.type.quiet != (True, False) else ''}"
    return f"**{status}**" if status == "different" else status


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_compat_table() -> list[str]:
    """The `## bandersnatch 8.2.0 compatibility` part of docs/reference.md."""
    out = [
        "## bandersnatch 8.2.0 compatibility",
        "",
        "Every key bandersnatch 8.2.0 reads, and what a `bandersnatch.conf` holding it does here (generated from the",
        "same rows; the inventory behind it is [bandersnatch-8.2.0.md](bandersnatch-8.2.0.md)). **same**: same name and",
        "meaning. **different**: same name, and what differs is said. **renamed**: read as the key named.",
        "**not needed**: accepted and ignored, because what it asks for always or never happens here (a value that",
        "asks for something gets one warning). **not supported**: not implemented; the key is accepted with one",
        "warning where ignoring it is harmless, else it is an error (exit 2) naming what to use instead. No",
        "bandersnatch key is ignored without a word.",
        "",
        "| section | bandersnatch key | here | notes |",
        "| --- | --- | --- | --- |",
    ]
    for fact in inventory_facts():
        row = row_for(fact["section"], fact["key"])
        if row is None:
            continue
        cells = [f"`[{fact['section']}]`", f"`{fact['key']}`", _here(row), _note(row)]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    out += ["", "Sections bandersnatch 8.2.0 ignores without a word are errors here (exit 2), with these hints:", ""]
    out += [f"- `[{section}]`: {hint}" for section, hint in SECTION_HINTS.items()]
    return out


def section_intro(section: str) -> str:
    """The line under a filter section's heading in docs/reference.md."""
    if section in OURS:
        return "Filter section of ours: applies when present in the file (with or without `[plugins]`)."
    return ("Filter section (bandersnatch's): without a `[plugins]` section it applies when present in the file; "
            "with one, when one of its plugins is enabled.")


__all__ = ["INVENTORY", "inventory_facts", "render_compat_table", "render_inventory", "row_for", "section_intro",
           "status_of"]
