"""One config key (`Key`) and the markers its rows use; the table of rows is `schema.py`.

Why its own module: the row modules (`mirror_keys.py`, `section_keys.py`, the filters, the
bandersnatch explanations) import `Key` without importing the table they are registered in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mirror_tool.config.values import Number, Only, ValueType


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: Default of a key that has none: the loader refuses a file without it.
REQUIRED: Final = _Marker("REQUIRED")
#: `Key.role_default` when the role's default is the tool's own default (the usual case).
SAME: Final = _Marker("SAME")


@dataclass(frozen=True)
class Key:
    """One config key.

    section, name: as written in the file (names are matched case-insensitively by configparser,
        so they are declared in lower case).
    type: a `values.ValueType`; range and choices live inside it.
    default: the value when the key is absent, or REQUIRED.
    doc: one short paragraph (example.conf comment and the reference's "meaning").
    role_var: the role variable the config template renders into this key, or None.
    role_default: SAME, or what defaults/main.yml holds instead of the tool's default (deployment
        paths, placeholders); tests hold the role to it.
    compat: how bandersnatch treats the same key (free text; "" = not stated yet).
    example: value the example file writes instead of the default (values an operator must set).
    attr: attribute of the settings object; "" = the name with `-` as `_`; None = accepted and
        parsed but kept nowhere (a bandersnatch key with nothing to do here).
    alias_of: another key of the section this one is read as (bandersnatch spellings): its value
        applies when that key is absent; both given is an error.
    A name holding `<...>` is a template: it stands for every key of its section that no other row
    names (`<[tags:]dotted.path>` in the metadata-filter sections), kept under the name as written.
    """

    section: str
    name: str
    type: ValueType
    default: Any
    doc: str
    role_var: str | None = None
    role_default: Any = SAME
    compat: str = ""
    example: str | None = None
    attr: str | None = ""
    alias_of: str | None = None

    def __post_init__(self) -> None:
        if self.name != self.name.lower():
            raise ValueError(f"[{self.section}] {self.name}: declare key names in lower case")
        if self.attr == "":
            keeps = not (self.template or self.alias_of or self.explains_only)
            object.__setattr__(self, "attr", self.name.replace("-", "_") if keeps else None)

    @property
    def template(self) -> bool:
        """True for a row standing for every otherwise unnamed key of its section."""
        return "<" in self.name

    def matches(self, name: str) -> bool:
        """Whether the key `name` (as written) is this template's."""
        head = self.name.split("<", 1)[0]
        return self.template and name.lower().startswith(head) and len(name) > len(head)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def compat_only(self) -> bool:
        """True for keys accepted only so a bandersnatch config loads: they change nothing."""
        from mirror_tool.config.compat import explanation

        return isinstance(self.type, Only) or explanation(self.type)

    @property
    def explains_only(self) -> bool:
        """True for rows that exist only to explain a bandersnatch key (accepted or refused)."""
        from mirror_tool.config.compat import explanation

        return explanation(self.type)


#: Durations in seconds: > 0, and >= 0 (the two value types most rows share).
SECONDS: Final = Number(0, False, "s")
SECONDS_OR_ZERO: Final = Number(0, True, "s")
