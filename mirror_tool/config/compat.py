"""bandersnatch 8.2.0 in the config file: its spelling, its keys we do not implement, its sections.

Why a module of its own: operators switch only if their `bandersnatch.conf` loads unchanged, and a
key that is silently ignored is worse than one that fails. So every key of bandersnatch 8.2.0 has
a row in the key table (docs/bandersnatch-8.2.0-keys.tsv is the inventory; a test holds the two
together): the keys we implement are ordinary rows, the others are rows whose value type here is
`Ignored` (accepted; one warning when the value asks for something that does not happen here) or
`Refused` (exit 2 with one line saying what to use instead). Those explanation rows are
registered *weakly*: a real row for the same key, declared later by another part of the tool,
replaces them.

The file format follows bandersnatch's reading of it: `=` is the only delimiter (metadata-filter
keys contain `:`), `%%` is a literal `%` and `%(key)s` expands to another key of the section
(bandersnatch's `BasicInterpolation`); a lone `%` stays as written, so values that were valid
here before keep their meaning.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from typing import Any, Callable

from mirror_tool.config.values import Boolean, Choice, Integer, OptionalPath, ValueType, Words

#: The statuses a row's `compat` text starts with (docs/reference.md's compatibility table).
STATUSES = ("same", "different", "renamed", "not needed", "not supported", "ours")

#: Sections bandersnatch once read and 8.2.0 ignores without a word; here: one line and exit 2.
SECTION_HINTS = {
    "blacklist": "bandersnatch < 5 name, ignored by 8.2.0 (it ran without this filter): rename it [blocklist]",
    "whitelist": "bandersnatch < 5 name, ignored by 8.2.0 (it ran without this filter): rename it [allowlist]",
    "swift": "bandersnatch 8.2.0 has no Swift storage plugin (its only storage section is [s3]); remove it",
}


def compat_status(text: str) -> str:
    """The status a `compat` text starts with ("" when it follows no convention)."""
    for status in STATUSES:
        if text == status or text.startswith((status + ":", status + " ", status + ";", status + ",")):
            return status
    return ""


#: `Noted.quiet` for a note given whatever the value.
ALWAYS: Any = object()


@dataclass(frozen=True)
class _Wrapping(ValueType):
    """A value type that reads, describes and writes values as `inner` does, and only adds a notice."""

    inner: ValueType

    def parse(self, raw: str) -> Any:
        return self.inner.parse(raw)

    def describe(self) -> str:
        return self.inner.describe()

    def render(self, value: Any) -> str:
        return self.inner.render(value)


@dataclass(frozen=True)
class Noted(_Wrapping):
    """A key that acts, with one warning (`note`) when its value is not `quiet`: a bandersnatch
    spelling read here with a meaning an operator should hear about once."""

    quiet: Any
    note: str

    @property
    def ansible_types(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.ansible_types

    def notice(self, value: Any) -> str | None:
        return None if self.quiet is not ALWAYS and value == self.quiet else self.note


@dataclass(frozen=True)
class Ignored(_Wrapping):
    """A bandersnatch key accepted so its config loads; it changes nothing here.

    `quiet` holds the values whose meaning ignoring preserves (bandersnatch's default, usually):
    any other value gets one warning, `why`, because the operator asked for something that does
    not happen here.
    """

    quiet: tuple[Any, ...]
    why: str

    def notice(self, value: Any) -> str | None:
        return None if value in self.quiet else f"ignored: {self.why}"


@dataclass(frozen=True)
class Refused(ValueType):
    """A bandersnatch key this tool does not implement and cannot ignore safely: any value but
    `quiet` is a config error saying what to use instead."""

    inner: ValueType
    quiet: Any
    why: str

    def parse(self, raw: str) -> Any:
        value = self.inner.parse(raw)
        if value != self.quiet:
            raise ValueError(f"not supported here: {self.why}")
        return value

    def describe(self) -> str:
        return self.inner.describe()

    def render(self, value: Any) -> str:
        return self.inner.render(value)


@dataclass(frozen=True)
class Text(ValueType):
    """Any text (stripped); empty is ""."""

    def parse(self, raw: str) -> str:
        return raw.strip()

    def describe(self) -> str:
        return "text"


def explanation(value_type: ValueType) -> bool:
    """True for the value types of keys that only explain (accepted or refused, never used)."""
    return isinstance(value_type, (Ignored, Refused))


# -- the file format -----------------------------------------------------------------------------

_REF = re.compile(r"%\(([^)]+)\)s")


class BandersnatchInterpolation(configparser.Interpolation):
    """`%%` -> `%` and `%(key)s` -> that key's value in the same section (bandersnatch's
    BasicInterpolation); a `%` followed by anything else is kept, so URL-encoded values and
    regexes written for this tool before keep working."""

    MAX_DEPTH = 10

    def before_get(self, parser: Any, section: str, option: str, value: str, defaults: Any) -> str:
        return self._expand(parser, section, option, value, 0)

    def _expand(self, parser: Any, section: str, option: str, value: str, depth: int) -> str:
        if "%" not in value:
            return value
        if depth > self.MAX_DEPTH:
            raise configparser.InterpolationDepthError(option, section, value)
        out: list[str] = []
        i = 0
        while i < len(value):
            char = value[i]
            if char != "%":
                out.append(char)
                i += 1
                continue
            if value.startswith("%%", i):
                out.append("%")
                i += 2
                continue
            match = _REF.match(value, i)
            if match:
                name = match.group(1)
                raw = parser.get(section, name, raw=True, fallback=None)
                if raw is None:
                    raise configparser.InterpolationMissingOptionError(option, section, value, name)
                out.append(self._expand(parser, section, name, raw, depth + 1))
                i = match.end()
                continue
            out.append(char)
            i += 1
        return "".join(out)


# -- plugin names ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PluginNames(ValueType):
    """`[plugins] enabled`: one name per line, as bandersnatch splits it (never on spaces).

    Empty (or absent) is None: no bandersnatch filter plugin runs. Names are checked against the
    registered filters when the filters are compiled (mirror_tool/filters/base.py).
    """

    ansible_types = ("list",)

    def parse(self, raw: str) -> tuple[str, ...] | None:
        names = tuple(line.strip() for line in raw.splitlines() if line.strip() and not line.strip().startswith("#"))
        for name in names:
            if len(name.split()) > 1:
                raise ValueError(f"one plugin name per line: bandersnatch 8.2.0 reads {name!r} as one unknown "
                                 "name and enables nothing; put each name on its own line")
        return names or None

    def describe(self) -> str:
        return "plugin names, one per line, or all"

    def render(self, value: Any) -> str:
        return "".join(f"\n    {item}" for item in value or ())


# -- diff-file references ----------------------------------------------------------------------------

_SECTION_OPTION = re.compile(r"\{\{\s*([A-Za-z0-9]+)_([A-Za-z0-9_-]+?)\s*\}\}")


def expand_references(text: str, lookup: Callable[[str, str], str | None]) -> str:
    """`{{ section_option }}` -> that key's raw value (bandersnatch's diff-file references, e.g.
    `{{mirror_directory}}/mirrored-files`); ValueError naming a reference that resolves to nothing."""

    def one(match: re.Match[str]) -> str:
        section, option = match.group(1), match.group(2)
        value = lookup(section, option)
        if value is None:
            raise ValueError(f"{match.group(0)} names no key ([{section}] {option} is not set)")
        return value

    return _SECTION_OPTION.sub(one, text)


__all__ = [
    "ALWAYS", "Noted", "BandersnatchInterpolation", "Boolean", "Choice", "Ignored", "Integer", "OptionalPath", "PluginNames", "Refused",
    "SECTION_HINTS", "STATUSES", "Text", "Words", "compat_status", "expand_references", "explanation",
]
