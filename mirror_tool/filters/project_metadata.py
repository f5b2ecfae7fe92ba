"""Whole-project limits read from the project's JSON: `[size_project_metadata]` and
`[versions_count_project_metadata]` (bandersnatch's metadata plugins).

Both judge the project as upstream serves it (every version, every file, yanked included, before
any other filter) and exempt the projects of `[allowlist] packages`, as 8.2.0 does: the intended
setup is "mirror everything reasonable, plus these big ones". A project they reject is not
mirrored; one already in the mirror is withdrawn (like a project removed upstream).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mirror_tool.config.schema import Key
from mirror_tool.config.values import Integer, ValueType
from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register
from mirror_tool.names import normalize
from mirror_tool.records import Project

if TYPE_CHECKING:
    from mirror_tool.config.settings import Config

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


@dataclass(frozen=True)
class BinarySize(ValueType):
    """A size as bandersnatch's humanfriendly reads it with binary units: `1G` = `1GiB` = `1 GB`
    = 2**30 bytes, decimals allowed; empty is None (no limit)."""

    def parse(self, raw: str) -> int | None:
        value = raw.strip()
        if not value:
            return None
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"not a size (e.g. 500M, 1.5G, 1 GiB, 1048576): {value!r}")
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])

    def describe(self) -> str:
        return "size (binary units: 500M, 1.5G, bytes) or empty"


KEYS_SIZE = (
    Key("size_project_metadata", "max_package_size", BinarySize(), None,
        "Skip projects whose files, all versions together, exceed this size (projects in `[allowlist] packages` "
        "are exempt); empty: no limit.",
        role_var="pypi_mirror_size_project_max_package_size",
        compat="same; a missing or bad size is a config error (8.2.0 logs a warning and filters nothing)"),
)
KEYS_COUNT = (
    Key("versions_count_project_metadata", "min_versions", Integer(0, 1_000_000), 0,
        "Skip projects with fewer versions than this (every version upstream lists, files or not); 0: no bound. "
        "Projects in `[allowlist] packages` are exempt.",
        role_var="pypi_mirror_versions_count_min",
        compat="same"),
    Key("versions_count_project_metadata", "max_versions", Integer(0, 1_000_000), 0,
        "Skip projects with more versions than this; 0: no bound. Exempt: `[allowlist] packages`.",
        role_var="pypi_mirror_versions_count_max",
        compat="same; `min_versions` above it is a config error (8.2.0 disables the plugin with a warning)"),
)


def _exempt(config: "Config") -> frozenset[str]:
    allow = config.section("allowlist") or {}
    from packaging.requirements import InvalidRequirement, Requirement

    names = set()
    for entry in allow.get("packages") or ():
        try:
            names.add(normalize(Requirement(entry).name))
        except InvalidRequirement:
            continue  # the allowlist filter reports it
    return frozenset(names)


class _ProjectLimit(Filter):
    def __init__(self, values: Mapping[str, Any], exempt: frozenset[str] = frozenset()) -> None:
        super().__init__(values)
        self.exempt = exempt

    @classmethod
    def build(cls, values: Mapping[str, Any], config: "Config") -> "_ProjectLimit":
        return cls(values, _exempt(config))

    def admits_metadata(self, project: Project) -> bool:
        return project.normalized in self.exempt or self.admits_whole(project)

    def admits_whole(self, project: Project) -> bool:
        raise NotImplementedError


@register
class SizeProjectMetadata(_ProjectLimit):
    section = "size_project_metadata"
    plugins = ("size_project_metadata",)
    keys = KEYS_SIZE

    @property
    def active(self) -> bool:
        return self.values["max_package_size"] is not None

    def admits_whole(self, project: Project) -> bool:
        return sum(f.size or 0 for f in project.files) <= self.values["max_package_size"]


@register
class VersionsCount(_ProjectLimit):
    section = "versions_count_project_metadata"
    plugins = ("versions_count_project_metadata",)
    keys = KEYS_COUNT

    def __init__(self, values: Mapping[str, Any], exempt: frozenset[str] = frozenset()) -> None:
        super().__init__(values, exempt)
        low, high = values["min_versions"], values["max_versions"]
        if high and low > high:
            raise ConfigError(self.section, "min_versions", f"{low} is above max_versions = {high}")

    @property
    def active(self) -> bool:
        return bool(self.values["min_versions"] or self.values["max_versions"])

    def admits_whole(self, project: Project) -> bool:
        count = len(project.versions)
        low, high = self.values["min_versions"], self.values["max_versions"]
        return count >= low and (not high or count <= high)


__all__ = ["BinarySize", "SizeProjectMetadata", "VersionsCount"]
