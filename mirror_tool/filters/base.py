"""What a filter is, how filters are registered, and how they combine (`FilterChain`).

A filter is one class: it names its bandersnatch section and plugin names, declares the config
keys it reads (`Key` rows of `mirror_tool.config.schema`; registering the class registers them, so
the loader parses, checks and documents its section), and answers one or more of four questions
over records. The sync engine asks before it downloads anything and `verify` asks again over what
is on disk, so both judge by these rules only. Semantics: docs/design.md, "Filters".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from mirror_tool.config.schema import KEYS, Key, register_keys
from mirror_tool.records import Project, ReleaseFile

if TYPE_CHECKING:
    from mirror_tool.config.settings import Config

_F = TypeVar("_F", bound="type[Filter]")


class Filter:
    """Base class: admits everything. `values` are the parsed keys of the filter's section (every
    key of the section, defaults filled in); raise ConfigError for what cannot be compiled."""

    #: The bandersnatch section the filter reads (present in the file = the filter applies).
    section: ClassVar[str]
    #: bandersnatch plugin names this filter stands for (`[plugins] enabled` is accepted and ignored).
    plugins: ClassVar[tuple[str, ...]] = ()
    #: The config keys this filter reads.
    keys: ClassVar[tuple[Key, ...]] = ()

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    @property
    def active(self) -> bool:
        """False when this filter, as configured, excludes nothing (callers then skip work)."""
        return True

    def admits_project(self, normalized: str) -> bool:
        """False: the project is never fetched, never listed."""
        return True

    def admits_version(self, normalized: str, version: str) -> bool:
        """False: the release is left out (its files with it)."""
        return True

    def admits_file(self, normalized: str, file: ReleaseFile) -> bool:
        """False: the file is left out (`file.size` may be None: unknown)."""
        return True

    def keep_versions(self, normalized: str, versions: list[str]) -> set[str] | None:
        """Of the versions that still have files after every other rule, those to keep (None: all)."""
        return None


_REGISTRY: list[type[Filter]] = []


def register(cls: _F) -> _F:
    """Class decorator: the filter applies wherever its section is in the config file."""
    register_keys(cls.keys)
    if cls not in _REGISTRY:
        _REGISTRY.append(cls)
    return cls


def unregister(cls: type[Filter]) -> None:
    """Forget a filter and its keys (tests that register one clean up with this)."""
    if cls in _REGISTRY:
        _REGISTRY.remove(cls)
    KEYS.remove(cls.keys)


def registered() -> tuple[type[Filter], ...]:
    return tuple(_REGISTRY)


def schema_rows(section: str, *names: str) -> tuple[Key, ...]:
    """The rows of `[section] names` as declared in the key table (built-in filters' keys)."""
    rows = tuple(KEYS.find(section, name) for name in names)
    missing = [name for name, row in zip(names, rows) if row is None]
    if missing:
        raise LookupError(f"[{section}] {', '.join(missing)}: no such key in the key table")
    return rows  # type: ignore[return-value]


class FilterChain:
    """The configured filters together: the one place that decides what the mirror holds."""

    def __init__(self, filters: Sequence[Filter] = ()) -> None:
        self.filters = tuple(f for f in filters if f.active)
        #: False when nothing is filtered, so callers (verify) can skip per-file work.
        self.active = bool(self.filters)

    def admits_project(self, normalized: str) -> bool:
        return all(f.admits_project(normalized) for f in self.filters)

    def filter_project(self, project: Project) -> Project:
        """The admitted subset of `project`: its files and versions.

        Version rules first, then file rules; a version whose files are all excluded is dropped
        (one that never had files is kept), then `keep_versions` rules (`latest_release`) choose
        among the versions that still have files. A file whose version is not known ("", a page
        file with an odd name) is judged by the file rules only.
        """
        norm = project.normalized
        if not self.admits_project(norm):
            return project.with_files((), ())
        if not self.active:
            return project
        version_ok = _memo(lambda v: all(f.admits_version(norm, v) for f in self.filters))
        files = [
            f for f in project.files
            if (not f.version or version_ok(f.version)) and all(flt.admits_file(norm, f) for flt in self.filters)
        ]
        had_files = {f.version for f in project.files}
        with_files = {f.version for f in files}
        versions = [v for v in project.versions if version_ok(v) and (v in with_files or v not in had_files)]
        for flt in self.filters:
            keep = flt.keep_versions(norm, [v for v in versions if v in with_files])
            if keep is not None:
                versions = [v for v in versions if v in keep]
                files = [f for f in files if not f.version or f.version in keep]
        return project.with_files(files, versions)


def _memo(func: Callable[[str], bool]) -> Callable[[str], bool]:
    seen: dict[str, bool] = {}

    def call(value: str) -> bool:
        if value not in seen:
            seen[value] = func(value)
        return seen[value]

    return call


def load_filters(config: "Config | None") -> FilterChain:
    """The filters whose sections `config` holds, compiled (ConfigError for what cannot be)."""
    if config is None:
        return FilterChain()
    return FilterChain([cls(values) for cls in registered() if (values := config.section(cls.section)) is not None])


def check_filters(config: "Config") -> None:
    """Compile the configured filters once at config load, so a mistake is a config error
    (exit 2) before anything is touched, never a crash in the middle of a sync."""
    load_filters(config)


__all__ = ["Filter", "FilterChain", "check_filters", "load_filters", "register", "registered", "schema_rows", "unregister"]
