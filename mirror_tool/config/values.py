"""Value types of config keys: how a raw INI string becomes a value, and back.

Each schema row (`schema.Key`) holds one of these objects, so the parser, the example file, the
reference docs and the role checks all read the same range, choices and spelling from one place.
`parse` raises `ValueError(problem)`; the loader turns that into `ConfigError([section] key: problem)`.
`render` gives the text an INI file (or the role's template) writes for a value, and
`parse(render(v)) == v` for every legal value.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

_BOOLS = {"1": True, "yes": True, "true": True, "on": True, "0": False, "no": False, "false": False, "off": False}
_SIZE_RE = re.compile(r"^(\d+)\s*([KMGT]?)i?B?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
#: Continuation-line indent of multi-line values (what configparser reads back as one value).
LIST_INDENT = "    "


class ValueType(ABC):
    """One kind of value. `ansible_types` are the argument_specs types that can carry it."""

    ansible_types: ClassVar[tuple[str, ...]] = ("str",)

    @abstractmethod
    def parse(self, raw: str) -> Any:
        """The value of `raw`, or ValueError with a one-line problem."""

    @abstractmethod
    def describe(self) -> str:
        """Short human type, e.g. `float s > 0` or `auto | off` (docs and the example file)."""

    def render(self, value: Any) -> str:
        """INI text for `value` (None and empty values render as the empty string)."""
        return "" if value is None else str(value)

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The legal spellings when the type is an enumeration (checked against argument_specs)."""
        return None


@dataclass(frozen=True)
class Boolean(ValueType):
    ansible_types: ClassVar[tuple[str, ...]] = ("bool",)

    def parse(self, raw: str) -> bool:
        try:
            return _BOOLS[raw.strip().lower()]
        except KeyError:
            raise ValueError(f"not a boolean: {raw!r} (use true/false, yes/no, on/off, 1/0)") from None

    def describe(self) -> str:
        return "bool"

    def render(self, value: Any) -> str:
        return "true" if value else "false"


@dataclass(frozen=True)
class Integer(ValueType):
    lo: int
    hi: int
    ansible_types: ClassVar[tuple[str, ...]] = ("int",)

    def parse(self, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"not an integer: {raw!r}") from None
        if not self.lo <= value <= self.hi:
            raise ValueError(f"must be an integer in {self.lo}..{self.hi}, got {value}")
        return value

    def describe(self) -> str:
        return f"int {self.lo}..{self.hi}"


@dataclass(frozen=True)
class Number(ValueType):
    """A finite float above `lo` (or at it when `inclusive`); `unit` is `s` or `h`."""

    lo: float
    inclusive: bool
    unit: str
    ansible_types: ClassVar[tuple[str, ...]] = ("float", "int")

    def parse(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"not a number: {raw!r}") from None
        if not math.isfinite(value) or value < self.lo or (value == self.lo and not self.inclusive):
            raise ValueError(f"must be a number {self._bound()} {self.unit}, got {raw!r}")
        return value

    def _bound(self) -> str:
        return f"{'>=' if self.inclusive else '>'} {self.lo:g}"

    def describe(self) -> str:
        return f"float {self.unit} {self._bound()}"

    def render(self, value: Any) -> str:
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)


@dataclass(frozen=True)
class Choice(ValueType):
    """One word of `options`; `case=False` also accepts other spellings (stored as listed)."""

    options: tuple[str, ...]
    case: bool = True

    def parse(self, raw: str) -> str:
        value = raw.strip()
        for option in self.options:
            if value == option or (not self.case and value.lower() == option.lower()):
                return option
        raise ValueError(f"must be one of {', '.join(self.options)}, got {raw!r}")

    def describe(self) -> str:
        return " | ".join(self.options)

    @property
    def choices(self) -> tuple[str, ...]:
        return self.options


@dataclass(frozen=True)
class Only(ValueType):
    """A bandersnatch key accepted with the one value this tool implements (anything else: error)."""

    inner: ValueType
    value: Any

    def parse(self, raw: str) -> Any:
        value = self.inner.parse(raw)
        if value != self.value:
            raise ValueError(f"only {self.inner.render(self.value)} is supported, got {raw.strip()!r}")
        return value

    def describe(self) -> str:
        return f"only {self.inner.render(self.value)}"

    def render(self, value: Any) -> str:
        return self.inner.render(value)


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    return value


@dataclass(frozen=True)
class AbsolutePath(ValueType):
    ansible_types: ClassVar[tuple[str, ...]] = ("path", "str")

    def parse(self, raw: str) -> Path:
        value = no_nul(raw.strip())
        if not value:
            raise ValueError("must not be empty")
        if not Path(value).is_absolute():
            raise ValueError(f"must be an absolute path, got {value!r}")
        return Path(value)

    def describe(self) -> str:
        return "absolute path"


@dataclass(frozen=True)
class OptionalPath(ValueType):
    """A path, or empty for "none" (None)."""

    ansible_types: ClassVar[tuple[str, ...]] = ("str", "path")

    def parse(self, raw: str) -> Path | None:
        value = no_nul(raw.strip())
        return Path(value) if value else None

    def describe(self) -> str:
        return "path or empty"


class LineList(ValueType):
    """Multi-valued keys: rendered one item per continuation line, as the role writes them."""

    ansible_types: ClassVar[tuple[str, ...]] = ("list",)

    def render(self, value: Any) -> str:
        return "".join(f"\n{LIST_INDENT}{item}" for item in value or ())


@dataclass(frozen=True)
class Words(LineList):
    """Items separated by whitespace or newlines (names, keywords)."""

    what: str = "words"

    def parse(self, raw: str) -> tuple[str, ...]:
        return tuple(raw.split())

    def describe(self) -> str:
        return f"list of {self.what}"


@dataclass(frozen=True)
class Regexes(LineList):
    """One Python regex per line, each compiled here so a typo is a config error."""

    def parse(self, raw: str) -> tuple[str, ...]:
        items = tuple(line.strip() for line in raw.splitlines() if line.strip())
        for item in items:
            try:
                re.compile(item)
            except re.error as exc:
                raise ValueError(f"invalid regex {item!r}: {exc}") from None
        return items

    def describe(self) -> str:
        return "regexes, one per line"


@dataclass(frozen=True)
class Requirements(LineList):
    """Project names or PEP 508 `name` + specifier; a line with an operator is one entry."""

    def parse(self, raw: str) -> tuple[str, ...]:
        from packaging.requirements import InvalidRequirement, Requirement  # only when a filter is set

        lines = [line.strip() for line in raw.splitlines()]
        out: list[str] = []
        for item in (line for line in lines if line and not line.startswith("#")):
            for token in [item] if any(c in item for c in "<>=!~") else item.split():
                try:
                    Requirement(token)
                except InvalidRequirement as exc:
                    raise ValueError(f"not a project name or requirement: {token!r} ({exc})") from None
                out.append(token)
        return tuple(out)

    def describe(self) -> str:
        return "list of names or name+specifier"


@dataclass(frozen=True)
class Size(ValueType):
    """Bytes, or an integer with K/M/G/T (powers of 1024); empty for "no limit" (None)."""

    def parse(self, raw: str) -> int | None:
        value = raw.strip()
        if not value:
            return None
        match = _SIZE_RE.match(value)
        if not match:
            raise ValueError(f"not a size (e.g. 500M, 2G, 1048576): {value!r}")
        return int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]

    def describe(self) -> str:
        return "size (500M, 2G, bytes) or empty"


@dataclass(frozen=True)
class Token(ValueType):
    """One non-empty word without whitespace (a region name, an identifier)."""

    what: str = "word"

    def parse(self, raw: str) -> str:
        value = no_nul(raw.strip())
        if not value or len(value.split()) != 1:
            raise ValueError(f"must be one {self.what} without spaces, got {raw.strip()!r}")
        return value

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class ByteSize(ValueType):
    """A required size of at least `lo` bytes: bytes, or an integer with K/M/G/T (powers of 1024).

    Rendered in the largest unit that divides it, so defaults read as `64M`, not `67108864`.
    """

    lo: int = 1
    ansible_types: ClassVar[tuple[str, ...]] = ("str", "int")

    def parse(self, raw: str) -> int:
        value = Size().parse(raw)
        if value is None:
            raise ValueError("must not be empty (a size such as 64M)")
        if value < self.lo:
            raise ValueError(f"must be at least {self.render(self.lo)}, got {raw.strip()!r}")
        return value

    def describe(self) -> str:
        return f"size >= {self.render(self.lo)} (64M, 1G, bytes)"

    def render(self, value: Any) -> str:
        number = int(value)
        for unit in ("T", "G", "M", "K"):
            if number and number % _SIZE_UNITS[unit] == 0:
                return f"{number // _SIZE_UNITS[unit]}{unit}"
        return str(number)
