"""Release filters: `[filters] prereleases`, `[filter_regex] releases`, `[latest_release] keep` and
`sort_by`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mirror_tool.config.schema import Key
from mirror_tool.config.values import Choice
from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register, schema_rows
from mirror_tool.records import Project


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


SORT_BY = Key(
    "latest_release", "sort_by", Choice(("version", "time"), case=False), "version",
    "Which versions are the latest: `version` (PEP 440 order; versions that do not parse come last) or `time` "
    "(the upload time of a version's first file).",
    role_var="pypi_mirror_latest_release_sort_by",
    compat="same; another value is a config error (bandersnatch silently uses `version`)")


@register
class LatestRelease(Filter):
    """Only the N latest versions that still have files (0: all), by PEP 440 order or by upload
    time; upstream's latest (`info.version`, the one `pip install` picks without a pin) is always
    one of them, as in bandersnatch (it takes the last of the N places when it is not among them)."""

    section = "latest_release"
    plugins = ("latest_release",)
    keys = (*schema_rows("latest_release", "keep"), SORT_BY)

    @property
    def active(self) -> bool:
        return bool(self.values["keep"])

    def keep_versions(self, normalized: str, versions: list[str], project: Project | None = None) -> set[str] | None:
        keep = self.values["keep"]
        if self.values.get("sort_by", "version") == "time" and project is not None:
            uploaded: dict[str, str] = {}
            for f in project.files:
                if f.version and f.upload_time and (f.version not in uploaded or f.upload_time < uploaded[f.version]):
                    uploaded[f.version] = f.upload_time
            ranked = sorted(versions, key=lambda v: (v in uploaded, uploaded.get(v, "")), reverse=True)
        else:
            def order(version: str) -> tuple[int, Any]:
                parsed = _parsed(version)
                return (1, parsed) if parsed is not None else (0, version)

            ranked = sorted(versions, key=order, reverse=True)
        chosen = ranked[:keep]
        latest = str(project.info.get("version") or "") if project is not None else ""
        if latest in versions and latest not in chosen:
            chosen[-1] = latest
        return set(chosen)


__all__ = ["LatestRelease", "Prereleases", "ReleaseRegex"]
