"""`[blocklist] platforms`: platform and Python-tag keywords, matched against file names.

Operators think in "no Windows", "no Python 2", "no free-threaded builds"; distributions encode that
in wheel tags (PEP 425) or, for old formats, in the file name. The keywords become predicates over
one file name, so the sync engine and `verify` judge a file identically (both only have the file
name for certain: PEP 691 pages carry no `packagetype`). Wheel tags are read with `packaging`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mirror_tool.errors import ConfigError
from mirror_tool.filters.base import Filter, register, schema_rows
from mirror_tool.records import ReleaseFile

#: Keyword -> what it excludes; the documented list (docs/design.md, README).
PLATFORM_KEYWORDS: dict[str, str] = {
    "windows": "wheels for win32 / win_amd64 / win_arm64; .exe and .msi installers; eggs built for win*",
    "macos": "wheels for macosx_*; .dmg; eggs built for macosx",
    "linux": "wheels for linux_*, manylinux*, musllinux*; .rpm / .deb; eggs built for linux",
    "manylinux": "wheels for manylinux*",
    "musllinux": "wheels for musllinux*",
    "freebsd": "wheels and eggs built for freebsd",
    "ios": "wheels for ios_*",
    "android": "wheels for android_*",
    "freethreaded": "wheels for free-threaded CPython (ABI tags like cp313t)",
    "pypy": "wheels for PyPy (pp* interpreter or pypy* ABI tags)",
    "pyX": "wheels whose interpreter is Python major X (py2, py27, cp27, pp27 for py2); eggs/installers named -pyX.Y",
    "pyX.Y": "wheels whose interpreter tag names exactly X.Y (cp38, py38, pp38 for py3.8; abi3 kept); eggs/installers named -pyX.Y",
}

_SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip", ".tar.z")
_INTERPRETER = re.compile(r"^(?P<impl>[a-z]+?)(?P<digits>\d+)$")
_PY_KEYWORD = re.compile(r"^py(?P<major>\d)(?:\.(?P<minor>\d+))?$")
_LEGACY_PY = re.compile(r"-py(?P<major>\d)\.(?P<minor>\d+)")
_FREE_THREADED_ABI = re.compile(r"^cp\d+[a-z]*t[a-z]*$")


# A matcher answers "does this keyword exclude this tag?" for wheels and "... this legacy file name?"
# for eggs and installers.
TagMatcher = Callable[[Any], bool]  # packaging.tags.Tag -> excluded?
NameMatcher = Callable[[str], bool]


@dataclass(frozen=True)
class PlatformMatcher:
    """The compiled form of one keyword."""

    keyword: str
    wheel_tag: TagMatcher
    legacy_name: NameMatcher


class UnknownPlatformKeyword(ValueError):
    """A `[blocklist] platforms` entry that is not in PLATFORM_KEYWORDS."""


def is_sdist(filename: str) -> bool:
    """Source archives run everywhere: platform keywords never exclude them."""
    lower = filename.lower()
    return lower.endswith(_SDIST_SUFFIXES)


def wheel_tags(filename: str) -> frozenset[Any] | None:
    """The expanded `packaging.tags.Tag`s of a wheel file name, None if it is not a wheel.

    Only the last three dash-separated fields are read (`packaging.tags.parse_tag`), so a wheel
    with an odd project or version spelling is still judged by its tags.
    """
    if not filename.lower().endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) < 5:
        return None
    from packaging.tags import parse_tag

    return parse_tag("-".join(parts[-3:]))


def _interpreter_version(interpreter: str) -> tuple[int, int | None] | None:
    """(major, minor) named by an interpreter tag: py2 -> (2, None), cp310 -> (3, 10)."""
    match = _INTERPRETER.match(interpreter)
    if not match:
        return None
    digits = match["digits"]
    major = int(digits[0])
    minor = int(digits[1:]) if len(digits) > 1 else None
    return major, minor


def _platform_prefix(*prefixes: str) -> TagMatcher:
    return lambda tag: tag.platform.startswith(prefixes)


def _never(_: object) -> bool:
    return False


def _py_matcher(major: int, minor: int | None) -> PlatformMatcher:
    """`pyX` / `pyX.Y`: exclude by the interpreter version the file is built for."""

    def wheel(tag: Any) -> bool:
        version = _interpreter_version(tag.interpreter)
        if version is None or version[0] != major:
            return False
        if minor is None:
            return True
        return version[1] == minor and tag.abi != "abi3"

    def legacy(name: str) -> bool:
        match = _LEGACY_PY.search(name)
        if not match or int(match["major"]) != major:
            return False
        return minor is None or int(match["minor"]) == minor

    keyword = f"py{major}" if minor is None else f"py{major}.{minor}"
    return PlatformMatcher(keyword, wheel, legacy)


_EGG_PLATFORM = re.compile(r"-py\d\.\d+-(?P<platform>.+)\.egg$")
_LEGACY_SUFFIX_PLATFORM = {".exe": "win", ".msi": "win", ".dmg": "macosx", ".rpm": "linux", ".deb": "linux"}


def legacy_platform(name: str) -> str:
    """The platform a non-wheel binary was built for ("" = any / unknown), from its lowercase name.

    Only the platform field is looked at (never the project name, which may well contain "linux").
    """
    for suffix, platform in _LEGACY_SUFFIX_PLATFORM.items():
        if name.endswith(suffix):
            return platform
    match = _EGG_PLATFORM.search(name)
    return match["platform"] if match else ""


def _legacy_platform_has(needle: str) -> NameMatcher:
    return lambda name: needle in legacy_platform(name)


_FIXED: dict[str, PlatformMatcher] = {
    "windows": PlatformMatcher("windows", _platform_prefix("win"), _legacy_platform_has("win")),
    "macos": PlatformMatcher("macos", _platform_prefix("macosx"), _legacy_platform_has("macosx")),
    "linux": PlatformMatcher(
        "linux", _platform_prefix("linux", "manylinux", "musllinux"), _legacy_platform_has("linux")
    ),
    "manylinux": PlatformMatcher("manylinux", _platform_prefix("manylinux"), _never),
    "musllinux": PlatformMatcher("musllinux", _platform_prefix("musllinux"), _never),
    "freebsd": PlatformMatcher("freebsd", _platform_prefix("freebsd"), _legacy_platform_has("freebsd")),
    "ios": PlatformMatcher("ios", _platform_prefix("ios"), _never),
    "android": PlatformMatcher("android", _platform_prefix("android"), _never),
    "freethreaded": PlatformMatcher(
        "freethreaded", lambda tag: bool(_FREE_THREADED_ABI.match(tag.abi)), _never
    ),
    "pypy": PlatformMatcher(
        "pypy",
        lambda tag: tag.interpreter.startswith("pp") or tag.abi.startswith("pypy"),
        _never,
    ),
}


#: Other spellings operators use for the same keyword.
ALIASES = {"free-threaded": "freethreaded", "macosx": "macos", "osx": "macos", "win": "windows"}


def compile_keyword(keyword: str) -> PlatformMatcher:
    """The matcher for one keyword; raises UnknownPlatformKeyword naming the accepted ones."""
    word = keyword.strip().lower()
    word = ALIASES.get(word, word)
    if word in _FIXED:
        return _FIXED[word]
    match = _PY_KEYWORD.match(word)
    if match:
        return _py_matcher(int(match["major"]), int(match["minor"]) if match["minor"] else None)
    accepted = ", ".join(k for k in PLATFORM_KEYWORDS)
    raise UnknownPlatformKeyword(f"unknown platform keyword {keyword!r} (accepted: {accepted})")


def excluded_by_platforms(filename: str, matchers: Iterable[PlatformMatcher]) -> bool:
    """True when the keywords exclude this file.

    A wheel is excluded only when every one of its expanded tags is excluded by some keyword, so
    `py2.py3-none-any` survives `py2` and a universal2 macOS + Linux multi-tag wheel survives
    `macos`. Source archives are never excluded.
    """
    matchers = tuple(matchers)
    if not matchers or is_sdist(filename):
        return False
    tags = wheel_tags(filename)
    if tags:
        return all(any(m.wheel_tag(tag) for m in matchers) for tag in tags)
    if filename.lower().endswith(".whl"):
        return False  # unparseable wheel name: nothing to judge by
    name = filename.lower()
    return any(m.legacy_name(name) for m in matchers)


@register
class Platforms(Filter):
    """No file built only for the listed platforms or Pythons (sdists are never excluded)."""

    section = "blocklist"
    plugins = ("exclude_platform",)
    keys = schema_rows("blocklist", "platforms")

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        try:
            self.matchers = tuple(compile_keyword(word) for word in values["platforms"])
        except UnknownPlatformKeyword as exc:
            raise ConfigError(self.section, "platforms", str(exc)) from None

    @property
    def active(self) -> bool:
        return bool(self.matchers)

    def admits_file(self, normalized: str, file: ReleaseFile) -> bool:
        return not excluded_by_platforms(file.filename, self.matchers)
