"""The config keys, declared once: one `Key` row per `[section] key`.

Everything else is derived from these rows: the parser's checks and defaults (loader.py), the
settings dataclasses' fields (settings.py, checked against the rows at import), the commented
`example.conf` and `docs/reference.md` (render.py), and the role checks (tests/test_config_schema.py:
defaults/main.yml, meta/argument_specs.yml and the config template must agree with the rows that
name a role variable).

A filter (or any plugin) adds its own section by calling `register_keys(rows)` at import; modules
listed in `PROVIDERS` are imported when the loader meets a section it does not know yet, so a
plugin's section is parsed, checked, documented and generated like the built-in ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Final

from mirror_tool.config.key import REQUIRED, SAME, Key  # noqa: F401  (re-exported: the rows' API)
from mirror_tool.config.mirror_keys import MIRROR_KEYS
from mirror_tool.config.section_keys import FILTER_KEYS, OBJECT_STORE_KEYS, PLUGINS_KEYS, WRAPPER_KEYS

#: Sections whose absence changes nothing (the file must hold `[mirror]`).
CORE_SECTIONS: Final = ("mirror", "wrapper", "plugins")
#: Sections that are not filters (`[object-store]` is read only with an object-store backend).
NON_FILTER_SECTIONS: Final = (*CORE_SECTIONS, "object-store")
#: Modules that register further keys when imported (the filter plugins).
PROVIDERS: tuple[str, ...] = ("mirror_tool.filters",)


class KeyTable:
    """Every known row, in declaration order, indexed by (section, name)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Key] = {}
        self._weak: set[tuple[str, str]] = set()
        self._providers_loaded = False

    def register(self, rows: Iterable[Key], *, weak: bool = False) -> None:
        """Add rows; re-registering an identical row is a no-op, a different one an error.

        `weak` rows (bandersnatch keys declared only to explain them) give way: a weak row is not
        added where a row exists, and a normal row replaces a weak one.
        """
        for row in rows:
            where = (row.section, row.name)
            known = self._rows.get(where)
            if known is not None and weak:
                continue
            if known is not None and known != row and where not in self._weak:
                raise ValueError(f"[{row.section}] {row.name} is declared twice, differently")
            self._rows[where] = row
            if weak:
                self._weak.add(where)
            else:
                self._weak.discard(where)

    def remove(self, rows: Iterable[Key]) -> None:
        """Forget rows (tests that register a plugin's keys clean up with this)."""
        for row in rows:
            self._rows.pop((row.section, row.name), None)
            self._weak.discard((row.section, row.name))

    def load_providers(self) -> None:
        """Import the PROVIDERS once, so the keys they register are known."""
        if not self._providers_loaded:
            self._providers_loaded = True
            for module in PROVIDERS:
                importlib.import_module(module)

    def rows(self) -> tuple[Key, ...]:
        return tuple(self._rows.values())

    def section(self, section: str) -> tuple[Key, ...]:
        return tuple(row for row in self._rows.values() if row.section == section)

    def sections(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.section for row in self._rows.values()))

    def find(self, section: str, name: str) -> Key | None:
        return self._rows.get((section, name))

    def lookup(self, section: str, name: str) -> Key | None:
        """The row for the key `name` as written: by its lower-case name, else the section's
        template row that matches it."""
        row = self._rows.get((section, name.lower()))
        if row is not None and not row.template:
            return row
        return next((r for r in self.section(section) if r.matches(name)), None)


KEYS = KeyTable()
KEYS.register(MIRROR_KEYS + WRAPPER_KEYS + OBJECT_STORE_KEYS + PLUGINS_KEYS + FILTER_KEYS)


def register_keys(rows: Iterable[Key], *, weak: bool = False) -> None:
    """Make a plugin's rows known to the loader, the generators and the role checks (`weak`:
    rows that only explain a bandersnatch key and give way to a real row of the same name)."""
    KEYS.register(rows, weak=weak)


def all_keys() -> tuple[Key, ...]:
    """Every row, the providers' included."""
    KEYS.load_providers()
    return KEYS.rows()


# bandersnatch spellings read as keys of ours, and the bandersnatch keys that only get explained
# (bandersnatch.py imports Key from here, so it comes last).
from mirror_tool.config.bandersnatch import ALIASES, EXPLAINED  # noqa: E402

KEYS.register(ALIASES)
KEYS.register(EXPLAINED, weak=True)
