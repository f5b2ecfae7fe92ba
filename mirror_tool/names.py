"""Project-name normalization and the checks that keep upstream data from escaping the mirror.

Everything that becomes part of a key or a path (project names, filenames, digests, URLs) passes
through here first; anything that could climb out of `web/`, or that the filesystem and nginx
cannot hold, is refused. Normalization is `packaging`'s `canonicalize_name` (PEP 503), imported
on first use: a run with nothing to do never needs it.
"""

from __future__ import annotations

import re
from typing import Callable
from urllib.parse import urlsplit

from mirror_tool.errors import UnsafeName

#: A project name is a directory (`simple/<name>/`) and a file name (`json/<name>`): at most
#: 255 bytes on Linux filesystems. Names are ASCII (PEP 508), so characters are bytes.
MAX_NAME_LENGTH = 255
#: A release file must leave room for its `<filename>.metadata` sibling in 255 bytes.
MAX_FILENAME_LENGTH = 255 - len(".metadata")

_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!~-]*$")
_canonicalize: Callable[..., str] | None = None


def _canonicalizer() -> Callable[..., str]:
    global _canonicalize
    if _canonicalize is None:
        from packaging.utils import canonicalize_name

        _canonicalize = canonicalize_name
    return _canonicalize


def normalize(name: str) -> str:
    """PEP 503 normalized form: lower case, runs of `-_.` replaced by one `-`."""
    return (_canonicalize or _canonicalizer())(name)


def check_project_name(name: object) -> str:
    """The normalized name, or UnsafeName for anything that is not a PEP 508 name of at most
    MAX_NAME_LENGTH characters."""
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        raise UnsafeName(f"refused unsafe project name {_shown(name)}")
    from packaging.utils import InvalidName

    try:
        return (_canonicalize or _canonicalizer())(name, validate=True)
    except InvalidName:
        raise UnsafeName(f"refused unsafe project name {_shown(name)}") from None


def is_valid_project_name(name: object) -> bool:
    try:
        check_project_name(name)
    except UnsafeName:
        return False
    return True


def check_filename(filename: object) -> str:
    """`filename` if it is one plain path component (no `/`, `..`, NUL, leading dot) that fits
    beside its `.metadata` sibling."""
    if (
        not isinstance(filename, str)
        or not filename
        or len(filename) > MAX_FILENAME_LENGTH
        or filename in (".", "..")
        or not _FILENAME_RE.match(filename)
    ):
        raise UnsafeName(f"refused unsafe filename {_shown(filename)}")
    return filename


def check_hex_digest(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX64_RE.match(value.lower()):
        raise UnsafeName(f"refused malformed {what} digest {_shown(value)}")
    return value.lower()


def check_http_url(url: object) -> str:
    """`url` if it is an absolute http(s) URL without NUL or whitespace."""
    if not isinstance(url, str) or any(c in url for c in "\x00\r\n\t "):
        raise UnsafeName(f"refused unsafe URL {_shown(url)}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UnsafeName(f"refused non-http(s) URL {_shown(url)}")
    return url


def _shown(value: object) -> str:
    """repr for a log line, cut short: a hostile upstream decides how long these are."""
    text = repr(value)
    return text if len(text) <= 300 else f"{text[:300]}... ({len(text)} characters)"


__all__ = ["MAX_FILENAME_LENGTH", "MAX_NAME_LENGTH", "check_filename", "check_hex_digest", "check_http_url",
           "check_project_name", "is_valid_project_name", "normalize"]
