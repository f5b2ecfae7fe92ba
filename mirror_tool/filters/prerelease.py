"""bandersnatch's `prerelease_release` plugin, optionally limited by `[filter_prerelease] packages`.

Two decisions where 8.2.0 differs (docs/reference.md says so too):
- A prerelease is what PEP 440 calls one (`a`, `b`, `rc`, `c`, `pre`, `dev` in any spelling), not
  bandersnatch's four regexes: `1.0c1`, `1.0pre1` and `1.0.dev` are prereleases here, and the
  local version `1.0+dev1` of a final release is not. Versions PEP 440 cannot parse fall back to
  those regexes.
- `packages` is compared with the normalized project name. 8.2.0 normalizes the list but compares
  it with upstream's spelling, so the limit only worked for projects already spelled normalized
  (its intent, and what operators expect, is the normalized comparison).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mirror_tool.config.schema import Key
from mirror_tool.config.values import Words
from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register
from mirror_tool.names import is_valid_project_name, normalize

_LEGACY = tuple(re.compile(p) for p in (r".+rc\d+$", r".+a(lpha)?\d+$", r".+b(eta)?\d+$", r".+dev\d+$"))

KEYS = (
    Key("filter_prerelease", "packages", Words("project names"), (),
        "Limit the `prerelease_release` plugin to these projects (one per line); empty: every project.",
        role_var="pypi_mirror_filter_prerelease_packages",
        compat="different: names are compared normalized (8.2.0 compares upstream's spelling, so `Foo.Bar` "
               "never matched); prereleases are PEP 440's"),
)


def is_prerelease(version: str) -> bool:
    """PEP 440 pre- and dev releases; bandersnatch's regexes for what PEP 440 cannot parse."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).is_prerelease
    except InvalidVersion:
        return any(p.match(version) for p in _LEGACY)


@register
class FilterPrerelease(Filter):
    """No prereleases, for every project or for the listed ones."""

    section = "filter_prerelease"
    plugins = ("prerelease_release",)
    keys = KEYS

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        for name in values["packages"]:
            if not is_valid_project_name(name):
                raise ConfigError(self.section, "packages", f"not a project name: {name!r}")
        self.only = frozenset(normalize(name) for name in values["packages"])

    def admits_version(self, normalized: str, version: str) -> bool:
        if self.only and normalized not in self.only:
            return True
        return not is_prerelease(version)


__all__ = ["FilterPrerelease", "is_prerelease"]
