"""Upstream answers (JSON API, PEP 691) turned into records, refusing what could escape the mirror.

Why here: every later layer trusts a `ReleaseFile`'s filename, URL and digests. A file with an
unsafe filename, a non-http(s) URL or a malformed digest is refused with an ERROR line and left
out of its project (the project still syncs); nothing downstream re-checks.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping
from urllib.parse import urljoin

from mirror_tool.errors import ProjectError, UnsafeName
from mirror_tool.names import check_filename, check_hex_digest, check_http_url, check_project_name
from mirror_tool.records import Project, ReleaseFile

if TYPE_CHECKING:
    from mirror_tool.index.compare import Rows

log = logging.getLogger("mirror_tool.sync")

_MD5 = re.compile(r"^[0-9a-f]{32}$")
#: Where the core-metadata hash may be, newest spelling first (JSON API and PEP 691 / 714).
_METADATA_KEYS = ("core-metadata", "core_metadata", "data-dist-info-metadata", "data_dist_info_metadata", "dist-info-metadata")


def serial_of(headers: Mapping[str, str]) -> int:
    """X-PyPI-Last-Serial (-1 when absent or bad); `headers`: the net layer's lower-case names."""
    try:
        return int(headers.get("x-pypi-last-serial", "-1"))
    except ValueError:
        return -1


_INDEX_SERIAL_RE = re.compile(rb'"_last-serial": ?(-?\d+)')


class IndexListing(Mapping[str, int]):
    """{name: project `_last-serial`} of a compact PEP 691 root index, kept as its bytes.

    Why: at 700,000 projects a dict of the listing is most of a reconcile's CPU and memory, and
    the reconcile compares rows as bytes (index/compare.py) without it. Looking into the
    listing (a first sync, verify) parses it once, on first use."""

    def __init__(self, rows: "Rows") -> None:
        #: Where the document's rows are (`compact_rows`).
        self.rows = rows
        self._map: dict[str, int] | None = None

    def _parsed(self) -> dict[str, int]:
        if self._map is None:
            from mirror_tool.index.compare import parse_row

            self._map = dict(parse_row(b"{%s}" % row) for chunk in self.rows.chunks() for row in chunk)
        return self._map

    def __getitem__(self, name: str) -> int:
        return self._parsed()[name]

    def __iter__(self) -> Iterator[str]:
        if self._map is not None:
            return iter(self._map)
        from mirror_tool.index.compare import parse_row

        return (parse_row(b"{%s}" % row)[0] for chunk in self.rows.chunks() for row in chunk)

    def __len__(self) -> int:
        return len(self._parsed())


def index_listing(body: bytes) -> tuple[int, Mapping[str, int]]:
    """A PEP 691 JSON root index: (its `_last-serial`, {name: project `_last-serial`}).

    The compact layout (PyPI's and this mirror's) stays bytes until looked into (`IndexListing`);
    any other layout (whitespace, escapes, extra keys) goes through `json.loads`.
    ValueError/KeyError/TypeError when the document is not such an index."""
    from mirror_tool.index.compare import compact_rows

    rows = compact_rows(body) if b"\\" not in body else None
    serial_match = _INDEX_SERIAL_RE.search(body, 0, rows.start) if rows is not None else None
    if rows is not None and serial_match is not None:
        return int(serial_match[1]), IndexListing(rows)
    data = json.loads(body)
    serial = int(data.get("meta", {}).get("_last-serial", 0))
    return serial, {str(p["name"]): int(p.get("_last-serial", 0)) for p in data["projects"]}


def version_key(version: str) -> tuple[int, Any]:
    """PEP 440 order; versions that do not parse sort below every valid one."""
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def display_name(name: object, normalized: str) -> str:
    """Upstream's spelling of the name when it is a valid name of this project, else `normalized`."""
    if isinstance(name, str):
        try:
            if check_project_name(name) == normalized:
                return name
        except UnsafeName:
            pass
    return normalized


def from_json_api(normalized: str, doc: dict[str, Any], raw: bytes, serial: int) -> Project:
    """`/pypi/<name>/json`: every release (with or without files) and its files."""
    releases = doc.get("releases")
    if not isinstance(releases, dict):
        raise ProjectError(f"{normalized}: project JSON has no releases mapping")
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    files: list[ReleaseFile] = []
    versions: list[str] = []
    for version, items in releases.items():
        if not isinstance(items, list):
            continue
        versions.append(str(version))
        files += _release_files(normalized, str(version), (f for f in items if isinstance(f, dict)), None)
    return Project(
        name=display_name(info.get("name"), normalized),
        normalized=normalized,
        serial=serial,
        versions=tuple(sorted(versions, key=version_key)),
        files=tuple(files),
        info=info,
        source="json",
        raw_json=raw,
    )


def from_simple(normalized: str, doc: dict[str, Any], base_url: str, serial: int) -> Project:
    """A PEP 691 project page (the JSON API 404s for a project without releases); ValueError
    when `doc` is not one."""
    try:
        items = [f for f in doc["files"] if isinstance(f, dict)]
        serial = int((doc.get("meta") or {}).get("_last-serial", serial))
        versions = {str(v) for v in doc.get("versions") or []}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValueError("not a PEP 691 JSON project page") from None
    files: list[ReleaseFile] = []
    for item in items:
        version = _version_from_filename(str(item.get("filename", "")))
        versions.add(version)
        files += _release_files(normalized, version, [item], base_url)
    return Project(
        name=display_name(doc.get("name", normalized), normalized),
        normalized=normalized,
        serial=serial,
        versions=tuple(sorted(versions, key=version_key)),
        files=tuple(files),
        source="simple",
    )


def _release_files(normalized: str, version: str, items: Iterable[dict[str, Any]], base_url: str | None) -> list[ReleaseFile]:
    """Validated records of one release's file dicts (JSON API keys, or PEP 691 ones with a base
    URL to resolve relative links against); unsafe entries are logged and skipped."""
    out = []
    for item in items:
        try:
            out.append(_release_file(version, item, base_url))
        except UnsafeName as exc:
            log.error("Refused file %r of package %s: %s", item.get("filename"), normalized, exc)
    return out


def _release_file(version: str, f: dict[str, Any], base_url: str | None) -> ReleaseFile:
    filename = check_filename(f.get("filename"))  # type: ignore[arg-type]
    if base_url is None:  # JSON API
        url = check_http_url(f.get("url"))
        digests = f.get("digests") if isinstance(f.get("digests"), dict) else {}
        requires_python, upload = f.get("requires_python"), f.get("upload_time_iso_8601") or f.get("upload_time")
        yanked = bool(f.get("yanked", False))
        reason = f.get("yanked_reason")
    else:  # PEP 691
        url = check_http_url(urljoin(base_url, str(f.get("url", ""))).split("#", 1)[0])
        digests = f.get("hashes") if isinstance(f.get("hashes"), dict) else {}
        requires_python, upload = f.get("requires-python"), f.get("upload-time")
        yanked = bool(f.get("yanked", False))
        reason = f.get("yanked") if isinstance(f.get("yanked"), str) else None
    sha256 = check_hex_digest(digests.get("sha256"), "sha256")
    blake2b = digests.get("blake2b_256")
    blake2b = check_hex_digest(blake2b, "blake2b_256") if blake2b else None
    md5 = digests.get("md5")
    md5 = md5.lower() if isinstance(md5, str) and _MD5.match(md5.lower()) else None  # only for `digest_name = md5`
    size = f.get("size")
    meta = next((f[key] for key in _METADATA_KEYS if key in f), None)
    meta_sha = None
    if isinstance(meta, dict) and meta.get("sha256") and filename.endswith(".whl"):
        try:
            meta_sha = check_hex_digest(meta.get("sha256"), "core-metadata sha256")
        except UnsafeName:
            meta_sha = None
    return ReleaseFile(
        filename=filename,
        url=url,
        sha256=sha256,
        version=version,
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        requires_python=requires_python if isinstance(requires_python, str) and requires_python else None,
        yanked=yanked,
        yanked_reason=reason if isinstance(reason, str) and reason else None,
        upload_time=upload if isinstance(upload, str) else None,
        metadata_sha256=meta_sha,
        blake2b_256=blake2b,
        md5=md5,
    )


def _version_from_filename(filename: str) -> str:
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return "unknown"


__all__ = ["display_name", "from_json_api", "from_simple", "serial_of", "version_key"]
