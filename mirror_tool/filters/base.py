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

    #: The bandersnatch section the filter reads (without `[plugins]`: present in the file = the
    #: filter applies).
    section: ClassVar[str]
    #: bandersnatch plugin names this filter stands for (with `[plugins]`: the filter applies when
    #: one is enabled; `running` says which). Empty: a section of ours, applied when present.
    plugins: ClassVar[tuple[str, ...]] = ()
    #: The config keys this filter reads.
    keys: ClassVar[tuple[Key, ...]] = ()
    #: The chain hands `admits_file_metadata` each file's JSON API entry (parsed once per project).
    uses_file_entries: ClassVar[bool] = False

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        #: The plugins of this filter that run (all of them without a `[plugins]` section).
        self.running: frozenset[str] = frozenset(self.plugins)

    @classmethod
    def build(cls, values: Mapping[str, Any], config: "Config") -> "Filter":
        """The filter for `values`; override to read another section too (exemption lists)."""
        return cls(values)

    def runs(self, plugin: str) -> bool:
        """Whether this filter's bandersnatch plugin `plugin` is on."""
        return plugin in self.running

    @property
    def active(self) -> bool:
        """False when this filter, as configured, excludes nothing (callers then skip work)."""
        return True

    def admits_project(self, normalized: str) -> bool:
        """False: the project is never fetched, never listed."""
        return True

    def admits_metadata(self, project: Project) -> bool:
        """False: the project, fetched from the JSON API (`project.info`, `project.raw_json`), is not
        mirrored (its pages are withdrawn). Not asked for projects read from pages (verify)."""
        return True

    def admits_version(self, normalized: str, version: str) -> bool:
        """False: the release is left out (its files with it)."""
        return True

    def admits_file(self, normalized: str, file: ReleaseFile) -> bool:
        """False: the file is left out (`file.size` may be None: unknown)."""
        return True

    def admits_file_metadata(self, project: Project, file: ReleaseFile, entry: Mapping[str, Any]) -> bool:
        """False: the file is left out, judged by its JSON API `entry` (only with `uses_file_entries`,
        and only for projects from the JSON API)."""
        return True

    def pins(self, normalized: str) -> bool:
        """True: this filter alone decides the project's versions (a pinned requirement: the other
        version rules and `keep_versions` are skipped for it, as in bandersnatch)."""
        return False

    def keep_versions(self, normalized: str, versions: list[str], project: Project | None = None) -> set[str] | None:
        """Of the versions that still have files after every other rule, those to keep (None: all).
        `project` is the project being filtered (upload times, `info`)."""
        return None

    def unlisted_release_plugins(self) -> list[str]:
        """The allowlist release plugins of this filter that run without their list (bandersnatch
        8.2.0 then keeps no version of any project; here they filter nothing)."""
        return []

    def warnings(self) -> list[str]:
        """One line each for what this filter, as configured, does differently from the operator's
        likely intent or from bandersnatch 8.2.0 (logged once per run)."""
        return []


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
        self._entries = any(f.uses_file_entries for f in self.filters)

    def admits_project(self, normalized: str) -> bool:
        return all(f.admits_project(normalized) for f in self.filters)

    def admits_metadata(self, project: Project) -> bool:
        """Whether the metadata filters keep a project fetched from the JSON API (True for others)."""
        if project.source != "json":
            return True
        return all(f.admits_metadata(project) for f in self.filters)

    def filter_project(self, project: Project) -> Project:
        """The admitted subset of `project`: its files and versions.

        Version rules first, then file rules; a version whose files are all excluded is dropped
        (one that never had files is kept), then `keep_versions` rules (`latest_release`) choose
        among the versions that still have files. A file whose version is not known ("", a page
        file with an odd name) is judged by the file rules only. A project pinned by a filter
        (`pins`) has its versions chosen by that filter alone.
        """
        norm = project.normalized
        if not self.admits_project(norm):
            return project.with_files((), ())
        if not self.active:
            return project
        pin = next((f for f in self.filters if f.pins(norm)), None)
        version_rules = (pin,) if pin is not None else self.filters
        version_ok = _memo(lambda v: all(f.admits_version(norm, v) for f in version_rules))
        entries = file_entries(project) if self._entries else None
        files = [
            f for f in project.files
            if (not f.version or version_ok(f.version)) and all(flt.admits_file(norm, f) for flt in self.filters)
            and (entries is None or f.filename not in entries
                 or all(flt.admits_file_metadata(project, f, entries[f.filename]) for flt in self.filters))
        ]
        had_files = {f.version for f in project.files}
        with_files = {f.version for f in files}
        versions = [v for v in project.versions if version_ok(v) and (v in with_files or v not in had_files)]
        for flt in () if pin is not None else self.filters:
            keep = flt.keep_versions(norm, [v for v in versions if v in with_files], project)
            if keep is not None:
                versions = [v for v in versions if v in keep]
                files = [f for f in files if not f.version or f.version in keep]
        return project.with_files(files, versions)


def file_entries(project: Project) -> dict[str, dict[str, Any]] | None:
    """filename -> the file's JSON API entry plus `release` (its version), from `raw_json`;
    None when the project did not come from the JSON API."""
    if project.raw_json is None:
        return None
    import json

    try:
        doc = json.loads(project.raw_json)
        releases = doc.get("releases") or {}
        return {
            str(item["filename"]): {**item, "release": str(version)}
            for version, items in releases.items() if isinstance(items, list)
            for item in items if isinstance(item, dict) and "filename" in item
        }
    except (ValueError, AttributeError, TypeError):
        return None


def _memo(func: Callable[[str], bool]) -> Callable[[str], bool]:
    seen: dict[str, bool] = {}

    def call(value: str) -> bool:
        if value not in seen:
            seen[value] = func(value)
        return seen[value]

    return call


#: Names 8.2.0 does not know (or knows without an entry point): what to do instead.
_PLUGIN_HINTS = {
    "version_range_project_metadata": None,  # a class without an entry point: does nothing in 8.2.0
}
_OLD_PREFIXES = {"blacklist_": "blocklist_", "whitelist_": "allowlist_"}


def _defaults(cls: type[Filter]) -> dict[str, Any]:
    return {row.name: row.default for row in cls.keys if not row.template}


def plugin_names() -> tuple[str, ...]:
    """Every bandersnatch plugin name a registered filter stands for (what `all` enables)."""
    return tuple(dict.fromkeys(name for cls in registered() for name in cls.plugins))


def _enabled(config: "Config", warnings: list[str]) -> frozenset[str] | None:
    """The enabled plugin names (None: no `[plugins]` section), checked against the known ones."""
    plugins = config.section("plugins")
    if plugins is None:
        return None
    from mirror_tool.errors import ConfigError

    names = tuple(plugins.get("enabled") or ())
    known = plugin_names()
    if "all" in names:
        return frozenset(known)
    enabled: set[str] = set()
    for name in names:
        if name in known:
            enabled.add(name)
        elif name in _PLUGIN_HINTS:
            warnings.append(f"[plugins] enabled: {name} ignored (bandersnatch 8.2.0 has no such plugin either)")
        else:
            old = next((new + name[len(prefix):] for prefix, new in _OLD_PREFIXES.items() if name.startswith(prefix)), None)
            if old is not None and old in known:
                raise ConfigError("plugins", "enabled", f"{name} is a pre-5.0 name that 8.2.0 ignores (it ran without "
                                  f"this filter): write {old}, or remove the line")
            raise ConfigError("plugins", "enabled", f"unknown plugin {name!r} (known: all, {', '.join(known)})")
    return frozenset(enabled)


def compile_filters(config: "Config | None") -> tuple[FilterChain, list[str]]:
    """The configured filters, compiled (ConfigError for what cannot be), and the warnings the
    configuration deserves.

    Without `[plugins]`, a filter applies when its section is present (bandersnatch 8.2.0 would
    apply none: `adopt` says so, the runs do not, since most such configs were written for this
    tool). With `[plugins]`, a bandersnatch filter applies when one of its plugins is enabled (its
    section may be absent: defaults); sections of ours apply when present.
    """
    warnings: list[str] = []
    if config is None:
        return FilterChain(), warnings
    enabled = _enabled(config, warnings)
    all_mode = "all" in ((config.section("plugins") or {}).get("enabled") or ())
    filters: list[Filter] = []
    unapplied: list[str] = []
    for cls in registered():
        values = config.section(cls.section)
        if enabled is None or not cls.plugins:
            if values is None:
                continue
            flt = cls.build(values, config)
        else:
            on = enabled & frozenset(cls.plugins)
            if not on:
                if values is not None and cls.section not in unapplied:
                    unapplied.append(cls.section)
                continue
            flt = cls.build(values if values is not None else _defaults(cls), config)
            flt.running = on
        filters.append(flt)
        warnings += flt.warnings()
        trap = flt.unlisted_release_plugins() if enabled is not None else []
        if trap:
            spelled = "enabled = all" if all_mode else "enabled"
            warnings.append(f"[plugins] {spelled}: {', '.join(trap)} without its list: bandersnatch 8.2.0 would keep no "
                            "version of any project (it mirrors no release files with this config); here it filters "
                            "nothing")
        elif enabled is not None and cls.plugins and not flt.active and not all_mode:
            warnings.append(f"[plugins] enabled: {', '.join(sorted(flt.running))} is enabled but [{cls.section}] "
                            "configures nothing for it: it filters nothing")
    applied = {f.section for f in filters}
    for section in unapplied:
        if section not in applied:
            warnings.append(f"[{section}] is present but none of its plugins is in [plugins] enabled: it is not applied "
                            "(as in bandersnatch 8.2.0)")
    return FilterChain(filters), warnings


def load_filters(config: "Config | None") -> FilterChain:
    """The filters `config` configures, compiled (ConfigError for what cannot be)."""
    return compile_filters(config)[0]


def check_filters(config: "Config") -> list[str]:
    """Compile the configured filters once at config load, so a mistake is a config error
    (exit 2) before anything is touched, never a crash in the middle of a sync; returns the
    warnings the configuration deserves."""
    return compile_filters(config)[1]


__all__ = ["Filter", "FilterChain", "check_filters", "compile_filters", "file_entries", "load_filters", "plugin_names",
           "register", "registered", "schema_rows", "unregister"]
