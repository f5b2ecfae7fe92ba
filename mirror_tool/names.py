"""Project-name normalization and the checks that keep upstream data from escaping the mirror.

Everything that becomes part of a local path (project names, filenames, blake2 digests, URL paths)
passes through here first; anything that could climb out of `web/` is refused.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from mirror_tool.errors import UnsafeName

_NORMALIZE_RE = re.compile(r"[-_.]+")
#: PEP 508 project names: letters, digits, and . _ - not at either end.
_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!~-]*$")
_URL_PATH_RE = re.compile(r"/packages/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{60})/([^/]+)$")


def normalize(name: str) -> str:
    """PEP 503 normalized form: lower case, runs of `-_.` replaced by one `-`."""
    return _NORMALIZE_RE.sub("-", name).lower()


def check_project_name(name: str) -> str:
    """Return the normalized name, or raise UnsafeName for anything that is not a PEP 508 name."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UnsafeName(f"refused unsafe project name {name!r}")
    return normalize(name)


def is_valid_project_name(name: str) -> bool:
    return isinstance(name, str) and bool(_NAME_RE.match(name))


def check_filename(filename: str) -> str:
    """Return `filename` if it is one plain path component (no `/`, `..`, NUL, leading dot)."""
    if (
        not isinstance(filename, str)
        or not filename
        or len(filename) > 255
        or filename in (".", "..")
        or not _FILENAME_RE.match(filename)
    ):
        raise UnsafeName(f"refused unsafe filename {filename!r}")
    return filename


def check_hex_digest(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX64_RE.match(value.lower()):
        raise UnsafeName(f"refused malformed {what} digest {value!r}")
    return value.lower()


def check_http_url(url: object) -> str:
    """Return `url` if it is an absolute http(s) URL without NUL or whitespace."""
    if not isinstance(url, str) or any(c in url for c in "\x00\r\n\t "):
        raise UnsafeName(f"refused unsafe URL {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UnsafeName(f"refused non-http(s) URL {url!r}")
    return url


def package_rel_path(filename: str, blake2b_256: str | None, url: str) -> str:
    """Path of a release file below `web/`: `packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`.

    The blake2b digest from the project JSON decides the directory; without one, the URL path must
    already have that shape. Either way the result is validated component by component.
    """
    check_filename(filename)
    if blake2b_256:
        b2 = check_hex_digest(blake2b_256, "blake2b_256")
        return f"packages/{b2[0:2]}/{b2[2:4]}/{b2[4:]}/{filename}"
    match = _URL_PATH_RE.search(unquote(urlsplit(url).path))
    if not match or match.group(4) != filename:
        raise UnsafeName(f"refused file {filename!r}: no blake2b digest and URL path {url!r}")
    return f"packages/{match.group(1)}/{match.group(2)}/{match.group(3)}/{filename}"
