"""`[filter_regex] packages` (bandersnatch's `regex_project`): no project whose name matches.

8.2.0 matches each regex (`re.match`) against the name as upstream's index spells it. The change
feed here only carries normalized names, so a project is judged twice: by its normalized name
before anything is fetched, and by upstream's spelling once its JSON is read (a match then
withdraws it). A regex written for either spelling therefore works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mirror_tool.config.schema import Key
from mirror_tool.config.values import Regexes
from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register
from mirror_tool.records import Project

KEYS = (
    Key("filter_regex", "packages", Regexes(), (),
        "Never mirror a project whose name matches one of these regexes (`re.match`), tried on the normalized "
        "name and on upstream's spelling.",
        role_var="pypi_mirror_filter_regex_packages",
        compat="different: tried on the normalized name too (8.2.0: only upstream's spelling)"),
)


@register
class RegexProject(Filter):
    section = "filter_regex"
    plugins = ("regex_project",)
    keys = KEYS

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        try:
            self.patterns = tuple(re.compile(p) for p in values["packages"])
        except re.error as exc:
            raise ConfigError(self.section, "packages", f"invalid regex: {exc}") from None

    @property
    def active(self) -> bool:
        return bool(self.patterns)

    def _matched(self, name: str) -> bool:
        return any(p.match(name) for p in self.patterns)

    def admits_project(self, normalized: str) -> bool:
        return not self._matched(normalized)

    def admits_metadata(self, project: Project) -> bool:
        return not self._matched(project.name)


__all__ = ["RegexProject"]
