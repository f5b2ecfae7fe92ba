"""Filters on fields of the project JSON: bandersnatch's `regex_project_metadata`,
`regex_release_file_metadata` and `version_range_release_file_metadata`.

Each key of these sections (except `search`) is `[tag:...]dotted.path`: the path is walked from the
project JSON (`info.classifiers`, `info.license`) for the project plugin, and from
`{"info": ..., "release": <version>, "release_file": <the file's JSON entry>}` for the file plugins
(`release_file.packagetype`, `release_file.requires_python`, `info.requires_python`). A missing or
null node has no values, a list is one value per item, anything else one value (non-strings are
matched as their JSON text, where 8.2.0 crashes the project). Every key must pass.

Tags: `any` (default: some pattern matches some value), `all` (every pattern matches some value),
`none` (no pattern matches any value); `match-null` (default: a node without values passes) or
`not-null` (it fails). One decision differs from 8.2.0, which fails every empty node under `none`:
here an empty node passes `none` unless `not-null` is given (a project without classifiers does
not carry the excluded classifier). Version ranges: the node is a PEP 440 specifier set (as in
`requires_python`); the file is kept when it contains one of the listed versions (prereleases
allowed). A specifier upstream wrote that does not parse keeps the file (8.2.0 fails the project).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from mirror_tool.config.schema import Key
from mirror_tool.config.values import Boolean, Regexes, ValueType
from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register
from mirror_tool.records import Project, ReleaseFile

log = logging.getLogger("mirror_tool.filters")

TAGS = frozenset({"any", "all", "none", "match-null", "not-null"})
PATH_KEY = "<[tags:]dotted.path>"


@dataclass(frozen=True)
class Versions(ValueType):
    """PEP 440 versions, one per line."""

    def parse(self, raw: str) -> tuple[str, ...]:
        from packaging.version import InvalidVersion, Version

        items = tuple(line.strip() for line in raw.splitlines() if line.strip())
        for item in items:
            try:
                Version(item)
            except InvalidVersion:
                raise ValueError(f"not a PEP 440 version: {item!r}") from None
        return items

    def describe(self) -> str:
        return "PEP 440 versions, one per line"

    def render(self, value: Any) -> str:
        return "".join(f"\n    {item}" for item in value or ())


def _rows(section: str, value_type: ValueType, what: str, search: bool, compat: str) -> tuple[Key, ...]:
    rows = [Key(section, PATH_KEY, value_type, (),
                f"Any number of keys `[tags:]dotted.path = {what}` (tags: any, all, none, match-null, not-null); every "
                "key must pass.", compat=compat)]
    if search:
        rows.insert(0, Key(section, "search", Boolean(), False,
                           "false: each regex must match at the start of the value (`re.match`); true: anywhere "
                           "(`re.search`).", compat="same"))
    return tuple(rows)


@dataclass(frozen=True)
class Rule:
    """One `[tags:]path = patterns` key, compiled."""

    key: str
    path: tuple[str, ...]
    mode: str  # any | all | none
    null_passes: bool
    patterns: tuple[Any, ...]

    def judge(self, values: list[str] | None, test: Callable[[Any, str], bool]) -> bool:
        if not values:
            return self.null_passes
        if self.mode == "none":
            return not any(test(p, v) for p in self.patterns for v in values)
        if self.mode == "all":
            return all(any(test(p, v) for v in values) for p in self.patterns)
        return any(test(p, v) for p in self.patterns for v in values)


def compile_rules(section: str, values: Mapping[str, Any], compile_one: Callable[[str], Any]) -> tuple[Rule, ...]:
    rules = []
    for key, patterns in values.items():
        if key == "search":
            continue
        *tags, path = key.split(":")
        unknown = [t for t in tags if t not in TAGS]
        if unknown or not path or any(not part for part in path.split(".")):
            raise ConfigError(section, key, f"not `[tags:]dotted.path` (tags: {', '.join(sorted(TAGS))})")
        mode = next((t for t in ("none", "all", "any") if t in tags), "any")
        try:
            compiled = tuple(compile_one(p) for p in patterns)
        except (re.error, ValueError) as exc:
            raise ConfigError(section, key, str(exc)) from None
        rules.append(Rule(key, tuple(path.split(".")), mode, "not-null" not in tags, compiled))
    return tuple(rules)


def node_values(root: Mapping[str, Any], path: tuple[str, ...]) -> list[str] | None:
    """The values at `path` below `root` (None: missing or null)."""
    node: Any = root
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if node is None:
        return None
    items = node if isinstance(node, list) else [node]
    return [item if isinstance(item, str) else json.dumps(item) for item in items if item is not None]


class _RegexRules(Filter):
    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.rules = compile_rules(self.section, values, re.compile)
        search = bool(values.get("search", False))
        self.test: Callable[[Any, str], bool] = (lambda p, v: p.search(v) is not None) if search else (
            lambda p, v: p.match(v) is not None)

    @property
    def active(self) -> bool:
        return bool(self.rules)

    def passes(self, root: Mapping[str, Any]) -> bool:
        return all(rule.judge(node_values(root, rule.path), self.test) for rule in self.rules)


def _project_document(project: Project) -> Mapping[str, Any]:
    """The project JSON as a mapping: `info` always, the rest when a path needs it."""
    if project.raw_json is not None:
        try:
            doc = json.loads(project.raw_json)
            if isinstance(doc, dict):
                return doc
        except ValueError:
            pass
    return {"info": dict(project.info)}


@register
class RegexProjectMetadata(_RegexRules):
    section = "regex_project_metadata"
    plugins = ("regex_project_metadata",)
    keys = _rows(section, Regexes(), "regexes, one per line", True,
                 "different: an empty node passes `none` unless `not-null` (8.2.0 fails it); non-string values are "
                 "matched as JSON text (8.2.0 fails the project)")

    def admits_metadata(self, project: Project) -> bool:
        needs_all = any(rule.path[0] != "info" for rule in self.rules)
        root = _project_document(project) if needs_all else {"info": project.info}
        return self.passes(root)


@register
class RegexReleaseFileMetadata(_RegexRules):
    section = "regex_release_file_metadata"
    plugins = ("regex_release_file_metadata",)
    keys = _rows(section, Regexes(), "regexes, one per line", True,
                 "different: as `[regex_project_metadata]` (empty nodes under `none`, non-string values)")
    uses_file_entries = True

    def admits_file_metadata(self, project: Project, file: ReleaseFile, entry: Mapping[str, Any]) -> bool:
        return self.passes({"info": project.info, "release": entry.get("release", file.version), "release_file": entry})


@register
class VersionRangeReleaseFileMetadata(Filter):
    section = "version_range_release_file_metadata"
    plugins = ("version_range_release_file_metadata",)
    keys = _rows(section, Versions(), "PEP 440 versions, one per line", False,
                 "different: a specifier upstream wrote that does not parse keeps the file (8.2.0 fails the "
                 "project)")
    uses_file_entries = True

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        from packaging.version import Version

        self.rules = compile_rules(self.section, values, Version)

    @property
    def active(self) -> bool:
        return bool(self.rules)

    def admits_file_metadata(self, project: Project, file: ReleaseFile, entry: Mapping[str, Any]) -> bool:
        root = {"info": project.info, "release": entry.get("release", file.version), "release_file": entry}
        return all(rule.judge(node_values(root, rule.path), _contains) for rule in self.rules)


def _contains(version: Any, spec: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(spec).contains(version, prereleases=True)
    except InvalidSpecifier:
        log.debug("unparseable specifier %r kept", spec)
        return True


__all__ = ["RegexProjectMetadata", "RegexReleaseFileMetadata", "VersionRangeReleaseFileMetadata", "node_values"]
