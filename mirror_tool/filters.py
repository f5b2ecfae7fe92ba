"""Which projects, releases and files the mirror keeps (bandersnatch's filter sections and keys).

The sync engine asks before it downloads anything, and `verify` asks again over what is already on
disk, so both must judge by the same rules: the rules live here only. config.py parses the
sections into `FilterSettings`; `validate_filter_settings` compiles them once at config load so a
mistake is one line naming `[section] key` (exit 2). Semantics and keywords: docs/design.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from mirror_tool.errors import ConfigError
from mirror_tool.platform_tags import (
    PlatformMatcher,
    UnknownPlatformKeyword,
    compile_keyword,
    excluded_by_platforms,
)

if TYPE_CHECKING:  # config.py may import this module to validate: no runtime import back
    from mirror_tool.config import FilterSettings
    from mirror_tool.records import Project

_NAME_SEPARATORS = re.compile(r"[-_.]+")
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def _normalize(name: str) -> str:
    """PEP 503 normalization (kept local so the filter rules depend on nothing but `packaging`)."""
    return _NAME_SEPARATORS.sub("-", name).lower()


def validate_filter_settings(settings: FilterSettings) -> None:
    """Checks config.py leaves to the filter owner; raises ConfigError naming `[section] key`.

    config.py parses the filter sections into FilterSettings; this compiles everything the
    filters will compile (requirements, platform keywords, regexes) so a mistake is a config error
    (exit 2) before anything is touched, never a crash in the middle of a sync.
    """
    for section, attr in (("allowlist", "allowlist_packages"), ("blocklist", "blocklist_packages")):
        for entry in getattr(settings, attr, ()):
            try:
                req = Requirement(entry)
            except InvalidRequirement as exc:
                problem = str(exc).splitlines()[0]
                raise ConfigError(section, "packages", f"invalid project name or specifier {entry!r}: {problem}") from None
            if req.url or req.marker or req.extras:
                raise ConfigError(section, "packages", f"{entry!r}: only a name and a version specifier are allowed")
    for word in getattr(settings, "blocklist_platforms", ()):
        try:
            compile_keyword(word)
        except UnknownPlatformKeyword as exc:
            raise ConfigError("blocklist", "platforms", str(exc)) from None
    for pattern in getattr(settings, "release_regexes", ()):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError("filter_regex", "releases", f"invalid regex {pattern!r}: {exc}") from None
    for name in getattr(settings, "size_allowlist", ()):
        if not _VALID_NAME.match(name):
            raise ConfigError("size", "allowlist", f"not a project name: {name!r}")
    keep = getattr(settings, "latest_keep", 0)
    if not isinstance(keep, int) or keep < 0:
        raise ConfigError("latest_release", "keep", f"must be an integer >= 0, got {keep!r}")
    size = getattr(settings, "max_file_size", None)
    if size is not None and (not isinstance(size, int) or size <= 0):
        raise ConfigError("size", "max_file_size", f"must be a positive size, got {size!r}")


# ---------------------------------------------------------------------------------------------
# Applying


def _version_or_none(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def _sort_key(version: str) -> tuple[int, Version | str]:
    """PEP 440 order; versions that do not parse sort below every valid one."""
    parsed = _version_or_none(version)
    return (1, parsed) if parsed is not None else (0, version)


def _specifier_map(entries: tuple[str, ...]) -> dict[str, list[SpecifierSet] | None]:
    """name -> specifiers (None: the whole project)."""
    result: dict[str, list[SpecifierSet] | None] = {}
    for entry in entries:
        req = Requirement(entry)
        name = _normalize(req.name)
        if not req.specifier:
            result[name] = None
        elif name not in result or result[name] is not None:
            result.setdefault(name, []).append(req.specifier)  # type: ignore[union-attr]
    return result


def _matches_any(version: Version | None, specifiers: list[SpecifierSet]) -> bool:
    if version is None:
        return False
    return any(spec.contains(version, prereleases=True) for spec in specifiers)


class Filter:
    """Compiled filters: the one place that decides what the mirror holds."""

    def __init__(self, settings: FilterSettings) -> None:
        self.settings = settings
        self._allow = _specifier_map(tuple(getattr(settings, "allowlist_packages", ())))
        self._block = _specifier_map(tuple(getattr(settings, "blocklist_packages", ())))
        self._platforms: tuple[PlatformMatcher, ...] = tuple(
            compile_keyword(word) for word in getattr(settings, "blocklist_platforms", ())
        )
        self._exclude_prereleases = bool(getattr(settings, "prereleases", False))
        self._release_res = tuple(re.compile(p) for p in getattr(settings, "release_regexes", ()))
        self._keep_latest = int(getattr(settings, "latest_keep", 0) or 0)
        self._max_size: int | None = getattr(settings, "max_file_size", None)
        self._size_exempt = frozenset(_normalize(n) for n in getattr(settings, "size_allowlist", ()))
        self._version_rules = bool(self._allow or self._block or self._exclude_prereleases or self._release_res)
        self._file_rules = bool(self._platforms or self._max_size is not None)
        #: False when nothing is filtered, so callers (verify) can skip per-file work.
        self.active = bool(self._version_rules or self._file_rules or self._keep_latest)

    # -- projects ------------------------------------------------------------------------------

    def admits_project(self, name: str) -> bool:
        """False when the project must not be mirrored at all (never fetched, never listed)."""
        name = _normalize(name)
        if self._allow and name not in self._allow:
            return False
        return not (name in self._block and self._block[name] is None)

    # -- versions and files --------------------------------------------------------------------

    def admits_version(self, name: str, version: str) -> bool:
        """Version-level rules (allow/block specifiers, prereleases, regex); not `latest_release`."""
        if not self._version_rules:
            return True
        name = _normalize(name)
        parsed = _version_or_none(version)
        allowed = self._allow.get(name)
        if allowed and not _matches_any(parsed, allowed):
            return False
        blocked = self._block.get(name)
        if blocked and _matches_any(parsed, blocked):
            return False
        if self._exclude_prereleases and parsed is not None and parsed.is_prerelease:
            return False
        return not any(p.match(version) for p in self._release_res)

    def admits_file(self, name: str, file: Mapping[str, Any]) -> bool:
        """File-level rules (platform keywords, size) on a PyPI JSON or PEP 691 file dict.

        Needs `filename`; `size` when known (a file of unknown size passes the size filter).
        """
        if not self._file_rules:
            return True
        filename = str(file.get("filename", ""))
        if self._platforms and excluded_by_platforms(filename, self._platforms):
            return False
        if self._max_size is not None and _normalize(name) not in self._size_exempt:
            size = file.get("size")
            if isinstance(size, int) and size > self._max_size:
                return False
        return True

    def filter_releases(
        self, name: str, releases: Mapping[str, list[dict[str, Any]]]
    ) -> dict[str, list[dict[str, Any]]]:
        """The admitted subset of `releases` (version -> file dicts), same shapes, same dict objects.

        Versions whose files are all excluded are dropped; versions that had no files upstream are
        kept when admitted (they cost nothing), except under `latest_release`, which keeps the N
        highest versions that still have files.
        """
        if not self.admits_project(name):
            return {}
        if not self.active:
            return {version: list(files) for version, files in releases.items()}
        admitted: dict[str, list[dict[str, Any]]] = {}
        for version, files in releases.items():
            if not self.admits_version(name, version):
                continue
            kept = [f for f in files if self.admits_file(name, f)]
            if kept or not files:
                admitted[version] = kept
        if self._keep_latest:
            with_files = sorted((v for v, f in admitted.items() if f), key=_sort_key, reverse=True)
            chosen = set(with_files[: self._keep_latest])
            admitted = {v: f for v, f in admitted.items() if v in chosen}
        return admitted


    def filter_project(self, project: "Project") -> "Project":
        """The admitted subset of `project` (files and versions). A file whose version is not
        known ("", e.g. an odd name on one of our pages) is judged by the file rules only."""
        if not self.admits_project(project.normalized):
            return project.with_files((), ())
        if not self.active:
            return project
        releases: dict[str, list[dict[str, Any]]] = {v: [] for v in project.versions}
        unknown = []
        for f in project.files:
            item = {"filename": f.filename, "size": f.size, "record": f}
            if f.version:
                releases.setdefault(f.version, []).append(item)
            else:
                unknown.append(item)
        admitted = self.filter_releases(project.normalized, releases)
        keep = {id(d["record"]) for files in admitted.values() for d in files}
        keep |= {id(d["record"]) for d in unknown if self.admits_file(project.normalized, d)}
        versions = [v for v in project.versions if v in admitted] + [v for v in admitted if v not in project.versions]
        return project.with_files((f for f in project.files if id(f) in keep), versions)


def load_filter(config: Any) -> Filter:
    """Compile the filters of `config` (a Config, or its FilterSettings; None = no filters)."""
    if config is None:
        from mirror_tool.config import FilterSettings

        return Filter(FilterSettings())
    settings = getattr(config, "filters", config)
    return Filter(settings)


__all__ = ["Filter", "load_filter", "validate_filter_settings"]
