"""`[allowlist] packages` and `[blocklist] packages`: which projects, and which of their versions.

Entries are PEP 508 names with an optional version specifier (`numpy>=1.26`). A name alone
admits (allowlist) or removes (blocklist) the whole project; a specifier admits or removes the
matching versions of that project (prereleases included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register, schema_rows
from mirror_tool.names import normalize


def _specifiers(section: str, entries: tuple[str, ...]) -> dict[str, list[Any] | None]:
    """normalized name -> specifier sets (None: the whole project)."""
    from packaging.requirements import InvalidRequirement, Requirement

    result: dict[str, list[Any] | None] = {}
    for entry in entries:
        try:
            req = Requirement(entry)
        except InvalidRequirement as exc:
            problem = str(exc).splitlines()[0]
            raise ConfigError(section, "packages", f"invalid project name or specifier {entry!r}: {problem}") from None
        if req.url or req.marker or req.extras:
            raise ConfigError(section, "packages", f"{entry!r}: only a name and a version specifier are allowed")
        name = normalize(req.name)
        if not req.specifier:
            result[name] = None
        elif name not in result or result[name] is not None:
            result.setdefault(name, []).append(req.specifier)  # type: ignore[union-attr]
    return result


def matches_any(version: str, specifiers: list[Any]) -> bool:
    """Whether `version` is in one of the specifier sets (prereleases included)."""
    return _matches_any(version, specifiers)


def _matches_any(version: str, specifiers: list[Any]) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return any(spec.contains(parsed, prereleases=True) for spec in specifiers)


class _ProjectList(Filter):
    """The `packages` key of an allowlist or a blocklist, compiled: name -> specifiers."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.entries = _specifiers(self.section, tuple(values["packages"]))

    @property
    def active(self) -> bool:
        return bool(self.entries)


@register
class Allowlist(_ProjectList):
    """Only the listed projects (`allowlist_project`); entries with a specifier keep only the
    matching versions (`allowlist_release`).

    With only `allowlist_release` enabled, a project without a line keeps no version (as in
    bandersnatch); an empty list filters nothing (bandersnatch 8.2.0 would keep no version).
    """

    section = "allowlist"
    plugins = ("allowlist_project", "allowlist_release")
    keys = schema_rows("allowlist", "packages")

    def admits_project(self, normalized: str) -> bool:
        return not self.runs("allowlist_project") or normalized in self.entries

    def admits_version(self, normalized: str, version: str) -> bool:
        if not self.runs("allowlist_release"):
            return True
        if normalized not in self.entries:
            return False
        specifiers = self.entries[normalized]
        return not specifiers or _matches_any(version, specifiers)

    def unlisted_release_plugins(self) -> list[str]:
        return ["allowlist_release"] if self.runs("allowlist_release") and not self.entries else []


@register
class Blocklist(_ProjectList):
    """Never the listed projects (a bare name), or never the matching versions (a specifier)."""

    section = "blocklist"
    plugins = ("blocklist_project", "blocklist_release")
    keys = schema_rows("blocklist", "packages")

    def admits_project(self, normalized: str) -> bool:
        return not (self.runs("blocklist_project") and normalized in self.entries and self.entries[normalized] is None)

    def admits_version(self, normalized: str, version: str) -> bool:
        specifiers = self.entries.get(normalized) if self.runs("blocklist_release") else None
        return not specifiers or not _matches_any(version, specifiers)


__all__ = ["Allowlist", "Blocklist"]
