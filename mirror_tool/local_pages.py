"""Reading a project's published simple page back into records (for `verify` and `delete`).

The pages are the mirror's only record of which files a project holds and what their hashes are,
so maintenance reads them instead of asking upstream. The PEP 691 JSON page has everything in one
`json.loads`; with `simple-format = HTML` the HTML page is parsed instead (slower, same records).
Rendering stays in pages.py: records convert back to `pages.FileEntry` to be re-rendered.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mirror_tool.pages import local_rel_path

_ANCHOR_RE = re.compile(r"<a\s([^>]*)>([^<]*)</a>", re.IGNORECASE)
_ATTR_RE = re.compile(r'([a-zA-Z][\w:-]*)="([^"]*)"')
_H1_RE = re.compile(r"<h1>Links for (.*?)</h1>", re.IGNORECASE | re.DOTALL)
_SERIAL_RE = re.compile(r"<!--SERIAL (\d+)-->")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.z", ".tgz", ".tbz", ".txz", ".tar", ".zip")


@dataclass(frozen=True)
class PageFile:
    """One file link of a project page."""

    filename: str
    href: str  # without fragment
    rel_path: str | None  # `packages/...` when the file is local, None for upstream links
    sha256: str | None
    size: int | None
    requires_python: str | None
    yanked: bool
    yanked_reason: str | None
    upload_time: str | None
    metadata_sha256: str | None  # PEP 658/714 metadata hash the page advertises


@dataclass(frozen=True)
class ProjectPageRecord:
    """What a project's page says: its display name, serial, versions (JSON only) and files."""

    display_name: str
    serial: int
    versions: tuple[str, ...] | None
    files: tuple[PageFile, ...]
    source: str  # "json" or "html"


def read_project_page(project_dir: Path, root_uri: str = "") -> ProjectPageRecord | None:
    """Read `simple/<name>/` (JSON page preferred); None when neither page exists or parses."""
    try:
        raw = (project_dir / "index.v1_json").read_bytes()
    except OSError:  # absent or unreadable: try the HTML page
        pass
    else:
        record = _from_json(raw, root_uri)
        if record is not None:
            return record
    for name in ("index.html", "index.v1_html"):
        try:
            text = (project_dir / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        return parse_html_page(text, project_dir.name, root_uri)
    return None


def _rel_path(href: str, root_uri: str) -> str | None:
    """`packages/...` for a local href; the common relative form without parsing (verify's hot path)."""
    if href.startswith("../../packages/"):
        rel = href[6:]
        if "%" not in rel and "/." not in rel:
            return rel
    return local_rel_path(href, root_uri)


def _metadata_hash(value: Any) -> str | None:
    if isinstance(value, dict):
        sha = value.get("sha256")
        return sha if isinstance(sha, str) else None
    return None


def _from_json(raw: bytes, root_uri: str) -> ProjectPageRecord | None:
    try:
        doc = json.loads(raw)
        files = []
        for item in doc.get("files", []):
            href = str(item["url"]).split("#", 1)[0]
            yanked = item.get("yanked", False)
            size = item.get("size")
            files.append(
                PageFile(
                    filename=str(item["filename"]),
                    href=href,
                    rel_path=_rel_path(href, root_uri),
                    sha256=(item.get("hashes") or {}).get("sha256"),
                    size=size if isinstance(size, int) else None,
                    requires_python=item.get("requires-python") or None,
                    yanked=bool(yanked),
                    yanked_reason=yanked if isinstance(yanked, str) else None,
                    upload_time=item.get("upload-time"),
                    metadata_sha256=_metadata_hash(item.get("core-metadata"))
                    or _metadata_hash(item.get("data-dist-info-metadata")),
                )
            )
        versions = doc.get("versions")
        return ProjectPageRecord(
            display_name=str(doc.get("name", "")),
            serial=int((doc.get("meta") or {}).get("_last-serial", 0)),
            versions=tuple(str(v) for v in versions) if isinstance(versions, list) else None,
            files=tuple(files),
            source="json",
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def parse_html_page(text: str, fallback_name: str, root_uri: str) -> ProjectPageRecord:
    """Records from a PEP 503 page (also the only source of the display name in JSON mode)."""
    files = []
    for attrs_text, label in _ANCHOR_RE.findall(text):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR_RE.findall(attrs_text)}
        if "href" not in attrs:
            continue
        href, _, fragment = attrs["href"].partition("#")
        sha = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
        meta = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata") or ""
        files.append(
            PageFile(
                filename=html.unescape(label).strip(),
                href=href,
                rel_path=_rel_path(href, root_uri),
                sha256=sha,
                size=None,
                requires_python=attrs.get("data-requires-python") or None,
                yanked="data-yanked" in attrs,
                yanked_reason=attrs.get("data-yanked") or None,
                upload_time=None,
                metadata_sha256=meta[len("sha256="):] if meta.startswith("sha256=") else None,
            )
        )
    h1 = _H1_RE.search(text)
    serial = _SERIAL_RE.search(text)
    return ProjectPageRecord(
        display_name=html.unescape(h1.group(1)) if h1 else fallback_name,
        serial=int(serial.group(1)) if serial else 0,
        versions=None,
        files=tuple(files),
        source="html",
    )


def file_version(normalized: str, filename: str, versions: tuple[str, ...] | None = None) -> str | None:
    """The version a distribution file belongs to, from its name (pages carry no per-file version).

    Wheels and eggs carry it as the second dash-separated field. Other files are `<name>-<version>`
    plus a suffix: the longest known version that fits wins, else the archive suffix is stripped.
    None when the name does not start with the project name.
    """
    lower = filename.lower()
    if lower.endswith((".whl", ".egg")):
        parts = filename.rsplit(".", 1)[0].split("-")
        return parts[1].replace("_", "-") if len(parts) >= 2 else None
    name_re = r"[-_.]+".join(re.escape(part) for part in normalized.split("-"))
    match = re.match(rf"(?:{name_re})-(.+)$", filename, re.IGNORECASE)
    if not match:
        return None
    rest = match.group(1)
    if versions:
        for version in sorted(versions, key=len, reverse=True):
            if rest.startswith(version) and rest[len(version):len(version) + 1] in ("", ".", "-"):
                return version
    for suffix in _ARCHIVE_SUFFIXES:
        if rest.lower().endswith(suffix):
            return rest[: -len(suffix)]
    return None
