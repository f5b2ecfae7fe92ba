"""Release filters: `[filters] prereleases`, `[filter_regex] releases`, `[latest_release] keep`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register, schema_rows


def _parsed(version: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        return None


@register
class Prereleases(Filter):
    """`prereleases = true`: no PEP 440 pre- or dev releases (post releases stay)."""

    section = "filters"
    plugins = ("prerelease_release",)
    keys = schema_rows("filters", "prereleases")

    @property
    def active(self) -> bool:
        return bool(self.values["prereleases"])

    def admits_version(self, normalized: str, version: str) -> bool:
        parsed = _parsed(version)
        return parsed is None or not parsed.is_prerelease


@register
class ReleaseRegex(Filter):
    """No version matching any of the regexes (`re.match`: anchored at the start)."""

    section = "filter_regex"
    plugins = ("regex_release",)
    keys = schema_rows("filter_regex", "releases")

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        try:
            self.patterns = tuple(re.compile(p) for p in values["releases"])
        except re.error as exc:
            raise ConfigError(self.section, "releases", f"invalid regex: {exc}") from None

    @property
    def active(self) -> bool:
        return bool(self.patterns)

    def admits_version(self, normalized: str, version: str) -> bool:
        return not any(p.match(version) for p in self.patterns)


@register
class LatestRelease(Filter):
    """Only the N highest PEP 440 versions that still have files (0: all); versions that do not
    parse sort below every valid one."""

    section = "latest_release"
    plugins = ("latest_release",)
    keys = schema_rows("latest_release", "keep")

    @property
    def active(self) -> bool:
        return bool(self.values["keep"])

    def keep_versions(self, normalized: str, versions: list[str]) -> set[str] | None:
        def order(version: str) -> tuple[int, Any]:
            parsed = _parsed(version)
            return (1, parsed) if parsed is not None else (0, version)

        return set(sorted(versions, key=order, reverse=True)[: self.values["keep"]])


__all__ = ["LatestRelease", "Prereleases", "ReleaseRegex"]
