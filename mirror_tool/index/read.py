"""Reading the mirror's own pages back into records: the one page reader.

The PEP 691 JSON page has everything in one `json.loads`; with `simple-format = HTML` (or for the
display name, which only the HTML page shows) the HTML page is parsed with one anchor pattern.
Files on a page become `ReleaseFile`s whose `key` is set when the href points into this mirror
(None for upstream links, `release-files = false`); pages carry no per-file version, so it is
recovered from the file name (`file_version`).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Iterator, NamedTuple
from urllib.parse import unquote, urlsplit

from mirror_tool.names import normalize
from mirror_tool.records import Project, ReleaseFile
from mirror_tool.storage import keys
from mirror_tool.storage.base import Storage

_ANCHOR_RE = re.compile(r"<a\s([^>]*)>([^<]*)</a>", re.IGNORECASE)
_ATTR_RE = re.compile(r'([a-zA-Z][\w:-]*)="([^"]*)"')
_H1_RE = re.compile(r"<h1>Links for (.*?)</h1>", re.IGNORECASE | re.DOTALL)
_SERIAL_RE = re.compile(r"<!--SERIAL (\d+)-->")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.z", ".tgz", ".tbz", ".txz", ".tar", ".zip")


class IndexEntry(NamedTuple):
    """One row of the root index: display name and the project's serial."""

    name: str
    serial: int


# -- project pages -------------------------------------------------------------------------------


def read_project(storage: Storage, normalized: str, root_uri: str = "") -> Project | None:
    """`simple/<normalized>/` (JSON page preferred); None when no page exists or parses."""
    raw = storage.read(keys.project_page(normalized, keys.JSON_PAGE))
    if raw is not None:
        project = parse_json_page(raw, normalized, root_uri)
        if project is not None:
            return project
    return read_html_page(storage, normalized, root_uri)


def read_html_page(storage: Storage, normalized: str, root_uri: str = "") -> Project | None:
    """The HTML page alone (the one holding the display name)."""
    for name in (keys.HTML_PAGE, keys.HTML_V1_PAGE):
        raw = storage.read(keys.project_page(normalized, name))
        if raw is None:
            continue
        try:
            return parse_html_page(raw.decode("utf-8"), normalized, root_uri)
        except UnicodeDecodeError:
            continue
    return None


def parse_json_page(raw: bytes, normalized: str, root_uri: str) -> Project | None:
    try:
        doc = json.loads(raw)
        listed = doc.get("versions")
        versions = tuple(str(v) for v in listed) if isinstance(listed, list) else None
        files = []
        for item in doc.get("files", []):
            href = str(item["url"]).split("#", 1)[0]
            yanked = item.get("yanked", False)
            size = item.get("size")
            files.append(
                _page_file(
                    normalized,
                    versions,
                    filename=str(item["filename"]),
                    href=href,
                    root_uri=root_uri,
                    sha256=(item.get("hashes") or {}).get("sha256"),
                    md5=_hex((item.get("hashes") or {}).get("md5")),
                    blake2b_256=_hex((item.get("hashes") or {}).get("blake2b_256")),
                    size=size if isinstance(size, int) else None,
                    requires_python=item.get("requires-python") or None,
                    yanked=bool(yanked),
                    yanked_reason=yanked if isinstance(yanked, str) else None,
                    upload_time=item.get("upload-time"),
                    metadata_sha256=_metadata_hash(item.get("core-metadata")) or _metadata_hash(item.get("data-dist-info-metadata")),
                )
            )
        return Project(
            name=str(doc.get("name", "")) or normalized,
            normalized=normalized,
            serial=int((doc.get("meta") or {}).get("_last-serial", 0)),
            versions=versions if versions is not None else _file_versions(files),
            files=tuple(files),
            source="page",
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def parse_html_page(text: str, normalized: str, root_uri: str) -> Project:
    files = []
    for attrs_text, label in _ANCHOR_RE.findall(text):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR_RE.findall(attrs_text)}
        if "href" not in attrs:
            continue
        href, _, fragment = attrs["href"].partition("#")
        algorithm, _, value = fragment.partition("=")
        meta = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata") or ""
        files.append(
            _page_file(
                normalized,
                None,
                filename=html.unescape(label).strip(),
                href=href,
                root_uri=root_uri,
                sha256=value if algorithm == "sha256" else None,
                md5=_hex(value) if algorithm == "md5" else None,
                blake2b_256=_hex(value) if algorithm == "blake2b_256" else None,
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
    return Project(
        name=html.unescape(h1.group(1)) if h1 else normalized,
        normalized=normalized,
        serial=int(serial.group(1)) if serial else 0,
        versions=_file_versions(files),
        files=tuple(files),
        source="page",
    )


def _page_file(normalized: str, versions: tuple[str, ...] | None, *, filename: str, href: str, root_uri: str,
               sha256: Any, metadata_sha256: str | None, **rest: Any) -> ReleaseFile:
    return ReleaseFile(
        filename=filename,
        url=href,
        sha256=sha256 if isinstance(sha256, str) else "",
        version=file_version(normalized, filename, versions) or "",
        key=local_key(href, root_uri),
        metadata_sha256=metadata_sha256,
        has_metadata=metadata_sha256 is not None,
        **rest,
    )


def _file_versions(files: list[ReleaseFile]) -> tuple[str, ...]:
    """Versions of a page that lists none (HTML): those of its files, in order of appearance."""
    return tuple(dict.fromkeys(f.version for f in files if f.version))


def _hex(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value and all(c in "0123456789abcdefABCDEF" for c in value) else None


def _metadata_hash(value: Any) -> str | None:
    if isinstance(value, dict):
        sha = value.get("sha256")
        return sha if isinstance(sha, str) else None
    return None


def local_key(href: str, root_uri: str) -> str | None:
    """The storage key (`packages/...`) of an href this mirror wrote; None for upstream links."""
    if href.startswith("../../packages/"):  # the common relative form, without parsing (verify's hot path)
        rel = href[6:]
        if "%" not in rel and "/." not in rel:
            return rel
    if root_uri and href.startswith(root_uri.rstrip("/") + "/"):
        href = href[len(root_uri.rstrip("/")) + 1:]
    elif href.startswith("../../"):
        href = href[len("../../"):]
    elif href.startswith("/packages/"):
        href = href[1:]
    elif urlsplit(href).scheme:
        return None
    href = unquote(href)
    if not href.startswith(keys.PACKAGES) or ".." in href.split("/"):
        return None
    return href


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


# -- root index ------------------------------------------------------------------------------------


def read_root_index(storage: Storage) -> tuple[int | None, dict[str, IndexEntry]]:
    """(the root JSON index's serial or None, {normalized: entry}) from `index.v1_json`, else
    from `index.html` with each project's serial read from its page."""
    raw = storage.read(keys.root_page(keys.JSON_PAGE))
    if raw is not None:
        try:
            data = json.loads(raw)
            entries = {
                normalize(p["name"]): IndexEntry(p["name"], int(p.get("_last-serial", 0))) for p in data.get("projects", [])
            }
            return int(data["meta"]["_last-serial"]), entries
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    raw = storage.read(keys.root_page(keys.HTML_PAGE))
    if raw is None:
        return None, {}
    out: dict[str, IndexEntry] = {}
    for attrs_text, label in _ANCHOR_RE.findall(raw.decode("utf-8", "replace")):
        href = dict(_ATTR_RE.findall(attrs_text)).get("href")
        if href is None:
            continue
        norm = unquote(html.unescape(href)).strip("/")
        out[norm] = IndexEntry(html.unescape(label), page_serial(storage, norm) or 0)
    return None, out


_ROOT_ROW_RE = re.compile(rb'\{"name":"([^"\\]*)","_last-serial":(-?\d+)\}')


def root_rows(storage: Storage) -> Iterator[tuple[str, int]]:
    """(display name, serial) of every project of the root index, in index order.

    Why not `read_root_index`: a reconcile compares the root index with the upstream's row by
    row, and at 700,000 projects the dict of `IndexEntry`s keyed by normalized names (one
    `normalize` each) costs seconds and hundreds of MB it does not need. The root JSON page this
    mirror writes is read with one pattern, streamed; any other page falls back to the reader."""
    raw = storage.read(keys.root_page(keys.JSON_PAGE))
    if raw is not None and raw.startswith(b'{"meta":{') and b"\\" not in raw and raw.count(b'"name":') == raw.count(b'{"name":"'):
        for match in _ROOT_ROW_RE.finditer(raw):
            yield match[1].decode("utf-8"), int(match[2])
        return
    for entry in read_root_index(storage)[1].values():
        yield entry.name, entry.serial


def page_serial(storage: Storage, normalized: str) -> int | None:
    """The serial a project page was written for (None: no page)."""
    raw = storage.read(keys.project_page(normalized, keys.JSON_PAGE))
    if raw is not None:
        try:
            return int(json.loads(raw)["meta"]["_last-serial"])
        except (ValueError, KeyError, TypeError):
            pass
    raw = storage.read(keys.project_page(normalized, keys.HTML_PAGE))
    match = _SERIAL_RE.search(raw.decode("utf-8", "replace")) if raw is not None else None
    return int(match.group(1)) if match else None


__all__ = ["IndexEntry", "file_version", "local_key", "page_serial", "read_html_page", "read_project", "read_root_index", "root_rows"]
