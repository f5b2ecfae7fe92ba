"""`[size] max_file_size` and `allowlist`: no file larger than the limit, except for listed projects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register, schema_rows
from mirror_tool.names import is_valid_project_name, normalize
from mirror_tool.records import ReleaseFile


@register
class Size(Filter):
    """Files larger than `max_file_size` are left out; files of unknown size pass."""

    section = "size"
    keys = schema_rows("size", "max_file_size", "allowlist")

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.limit: int | None = values["max_file_size"]
        for name in values["allowlist"]:
            if not is_valid_project_name(name):
                raise ConfigError(self.section, "allowlist", f"not a project name: {name!r}")
        self.exempt = frozenset(normalize(n) for n in values["allowlist"])

    @property
    def active(self) -> bool:
        return self.limit is not None

    def admits_file(self, normalized: str, file: ReleaseFile) -> bool:
        if self.limit is None or normalized in self.exempt or file.size is None:
            return True
        return file.size <= self.limit


__all__ = ["Size"]
