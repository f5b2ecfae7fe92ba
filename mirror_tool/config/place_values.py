"""Config values that name a place: http(s) URLs, hosts, a proxy, a bucket and key prefix, a readable file.

Why apart from `values.py`: these are the types the network layer and the object store read; the
generic ones (numbers, sizes, choices, lists) stay short to read there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from mirror_tool.config.values import LineList, ValueType, no_nul


@dataclass(frozen=True)
class HttpUrl(ValueType):
    """An http(s) URL without its trailing `/`; `optional` also accepts empty (stored as "")."""

    optional: bool = False

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if not value and self.optional:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    def describe(self) -> str:
        return "http(s) URL or empty" if self.optional else "http(s) URL"


@dataclass(frozen=True)
class HttpUrls(LineList):
    """http(s) URLs separated by whitespace or newlines, each without its trailing `/`."""

    def parse(self, raw: str) -> tuple[str, ...]:
        return tuple(HttpUrl().parse(item) for item in raw.split())

    def describe(self) -> str:
        return "list of http(s) URLs"


_BUCKET_RE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


@dataclass(frozen=True)
class BucketName(ValueType):
    """An object-store bucket (Swift container) name: letters, digits, `.`, `_`, `-`."""

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if not _BUCKET_RE.match(value):
            raise ValueError(f"not a bucket name (letters, digits, '.', '_', '-'; at most 255): {value!r}")
        return value

    def describe(self) -> str:
        return "bucket name"


@dataclass(frozen=True)
class KeyPrefix(ValueType):
    """A key prefix inside a bucket, stored as `a/b/` (empty: the bucket's root).

    Leading and trailing `/` are optional in the file; `.`, `..` and empty components are
    refused, so two mirrors cannot name each other's objects by accident.
    """

    def parse(self, raw: str) -> str:
        value = no_nul(raw.strip()).strip("/")
        if not value:
            return ""
        parts = value.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"not a key prefix (no empty, '.' or '..' components): {raw.strip()!r}")
        return value + "/"

    def describe(self) -> str:
        return "key prefix or empty"


_HOST_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
                      r"|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Hosts(LineList):
    """Host names (or IP addresses, IPv6 in brackets), each with an optional `:port`; lower-cased."""

    def parse(self, raw: str) -> tuple[str, ...]:
        out = []
        for item in raw.split():
            match = _HOST_RE.match(item)
            if not match or "://" in item or (match.group(1) and not 0 < int(match.group(1)) < 65536):
                raise ValueError(f"not a host or host:port: {item!r}")
            out.append(item.lower())
        return tuple(out)

    def describe(self) -> str:
        return "list of host or host:port"


@dataclass(frozen=True)
class ProxyUrl(ValueType):
    """An http(s) proxy URL, credentials allowed (never repeated in an error line), or empty."""

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        shown = f"{parts.scheme}://***@{parts.hostname}" if "@" in parts.netloc else value
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// proxy URL (SOCKS is not supported), got {shown!r}")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError(f"bad port in {shown!r}") from None
        return value

    def describe(self) -> str:
        return "http(s) proxy URL or empty"


@dataclass(frozen=True)
class ReadableFile(ValueType):
    """An absolute path to a file this process can read now (e.g. a CA bundle), or empty (None).

    Read at load time, so `check-config` (the role's `validate:`) refuses a bundle that is not on
    the host before a run fails on it.
    """

    ansible_types: ClassVar[tuple[str, ...]] = ("str", "path")

    def parse(self, raw: str) -> Path | None:
        value = no_nul(raw.strip())
        if not value:
            return None
        path = Path(value)
        if not path.is_absolute():
            raise ValueError(f"must be an absolute path, got {value!r}")
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror or exc}") from None
        return path

    def describe(self) -> str:
        return "absolute path of a readable file, or empty"
