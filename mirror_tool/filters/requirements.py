"""`[allowlist] requirements` and `requirements_path`: allowlists read from pip requirements files.

Operators often already keep the list of what they need as requirements files; bandersnatch's
`project_requirements` plugin mirrors only the projects named there, and
`project_requirements_pinned` keeps only the versions their specifiers allow. The files are read
once, when the config is loaded, so a missing file is a config error before anything is touched.
Format (as bandersnatch reads it): one PEP 508 requirement per line; empty lines and lines that
start with `#` or `-` (`-r`, `-e`, `--hash` ...) are skipped; inline `# ...` comments are stripped;
extras and markers are read and ignored. A file name holding `*` is a glob inside
`requirements_path`. Relative paths are taken from the config file's directory (bandersnatch: the
working directory, which under cron is the user's home).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mirror_tool.config.schema import Key
from mirror_tool.config.values import OptionalPath, Regexes
from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register
from mirror_tool.filters.projects import matches_any
from mirror_tool.names import normalize

if TYPE_CHECKING:
    from mirror_tool.config.settings import Config

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class FileNames(Regexes):
    """File names or globs, one per line (nothing compiled)."""

    def parse(self, raw: str) -> tuple[str, ...]:
        return tuple(line.strip() for line in raw.splitlines() if line.strip())

    def describe(self) -> str:
        return "file names or globs, one per line"


KEYS = (
    Key("allowlist", "requirements_path", OptionalPath(), None,
        "Directory the `requirements` file names are relative to; empty: the config file's directory.",
        role_var="pypi_mirror_allowlist_requirements_path",
        compat="different: a relative or empty path is taken from the config file's directory (bandersnatch: the "
               "working directory)"),
    Key("allowlist", "requirements", FileNames(), (),
        "pip requirements files (names or `*` globs) whose projects are the only ones mirrored "
        "(`project_requirements`); a line with a specifier keeps only the matching versions "
        "(`project_requirements_pinned`). Lines starting with `#` or `-` are skipped.",
        role_var="pypi_mirror_allowlist_requirements",
        compat="same: `project_requirements` and `project_requirements_pinned`"),
)


def _decode(data: bytes) -> str:
    """BOM, then a PEP 263 `coding:` line, then UTF-8 (bandersnatch: BOM, coding line, locale)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    for line in data.splitlines()[:2]:
        match = _CODING.match(line)
        if match:
            try:
                return data.decode(match.group(1).decode("ascii"))
            except (LookupError, UnicodeDecodeError):
                break
    return data.decode("utf-8", "replace")


def requirement_files(base: Path, names: tuple[str, ...]) -> list[Path]:
    """The files `names` stand for: globs expanded (sorted), every name joined to `base`."""
    out: list[Path] = []
    for name in names:
        if "*" in name:
            matched = sorted(base.glob(name))
            if not matched:
                raise ConfigError("allowlist", "requirements", f"{name!r} matches no file in {base}")
            out += matched
        else:
            out.append(base / name)
    return out


def read_requirements(path: Path) -> dict[str, list[Any] | None]:
    """normalized name -> specifier sets (None: a line without one) of one requirements file."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise ConfigError("allowlist", "requirements", f"cannot read {path}: {exc.strerror or exc}") from None
    found: dict[str, list[Any] | None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        line = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            problem = str(exc).splitlines()[0]
            raise ConfigError("allowlist", "requirements", f"{path}:{number}: not a requirement: {problem}") from None
        name = normalize(req.name)
        if req.specifier:
            if found.get(name, []) is not None:
                found.setdefault(name, []).append(req.specifier)  # type: ignore[union-attr]
        else:
            found[name] = None
    return found


@register
class Requirements(Filter):
    """Only the projects of the requirements files; pinned ones only in the versions allowed."""

    section = "allowlist"
    plugins = ("project_requirements", "project_requirements_pinned")
    keys = KEYS

    def __init__(self, values: Mapping[str, Any], base: Path | None = None) -> None:
        super().__init__(values)
        root = values.get("requirements_path")
        directory = (base or Path.cwd()) / root if root is not None else (base or Path.cwd())
        self.entries: dict[str, list[Any] | None] = {}
        for path in requirement_files(directory, tuple(values.get("requirements") or ())):
            for name, specs in read_requirements(path).items():
                if specs is None or self.entries.get(name, []) is None:
                    self.entries[name] = None
                else:
                    self.entries.setdefault(name, []).extend(specs)  # type: ignore[union-attr]

    @classmethod
    def build(cls, values: Mapping[str, Any], config: "Config") -> "Requirements":
        return cls(values, base=config.path.resolve().parent)

    @property
    def active(self) -> bool:
        return bool(self.entries)

    def admits_project(self, normalized: str) -> bool:
        return not self.runs("project_requirements") or normalized in self.entries

    def pins(self, normalized: str) -> bool:
        return self.runs("project_requirements_pinned") and bool(self.entries.get(normalized))

    def admits_version(self, normalized: str, version: str) -> bool:
        if not self.runs("project_requirements_pinned"):
            return True
        if normalized not in self.entries:
            return False
        specifiers = self.entries[normalized]
        return not specifiers or matches_any(version, specifiers)

    def unlisted_release_plugins(self) -> list[str]:
        return ["project_requirements_pinned"] if self.runs("project_requirements_pinned") and not self.entries else []


__all__ = ["Requirements", "read_requirements", "requirement_files"]
