"""Rendering of the simple pages (PEP 503/592/629/658/691/700/714) and reading them back.

Pages are the mirror's only record of what each project holds: reading a project's previous page
tells which files it listed (to delete those removed upstream), and the root JSON index keeps every
project's serial (to diff against upstream during reconciliation).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote, unquote, urlsplit

API_VERSION = "1.1"
_SERIAL_RE = re.compile(rb"<!--SERIAL (\d+)-->")
_HREF_RE = re.compile(r'<a href="([^"]*)"[^>]*>([^<]*)</a>')


@dataclass(frozen=True)
class FileEntry:
    """One release file as the mirror publishes it."""

    filename: str
    url: str  # upstream URL
    rel_path: str  # packages/aa/bb/rest/filename
    sha256: str
    size: int | None
    requires_python: str | None
    yanked: bool
    yanked_reason: str | None
    upload_time: str | None
    version: str
    metadata_sha256: str | None  # advertised by upstream (PEP 658/714)
    has_metadata: bool = False  # the .metadata sibling is on disk and verified


@dataclass(frozen=True)
class ProjectRecord:
    display_name: str
    serial: int


def file_href(entry: FileEntry, *, release_files: bool, root_uri: str) -> str:
    """Link to a file from `simple/<project>/`: relative, root_uri-based, or upstream's URL."""
    if not release_files:
        return f"{entry.url.split('#', 1)[0]}"
    path = quote(entry.rel_path, safe="/")
    if root_uri:
        return f"{root_uri.rstrip('/')}/{path}"
    return f"../../{path}"


def render_project_html(name: str, serial: int, files: Iterable[FileEntry], *, release_files: bool, root_uri: str) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        f"    <title>Links for {html.escape(name)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {html.escape(name)}</h1>",
    ]
    for f in files:
        href = html.escape(f"{file_href(f, release_files=release_files, root_uri=root_uri)}#sha256={f.sha256}")
        attrs = [f'href="{href}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
        if f.has_metadata and f.metadata_sha256:
            attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
        if f.yanked:
            attrs.append(f'data-yanked="{html.escape(f.yanked_reason or "")}"')
        lines.append(f"    <a {' '.join(attrs)}>{html.escape(f.filename)}</a><br/>")
    lines += ["  </body>", "</html>", f"<!--SERIAL {serial}-->", ""]
    return "\n".join(lines).encode("utf-8")


def render_project_json(name: str, serial: int, files: Iterable[FileEntry], versions: Iterable[str], *, release_files: bool, root_uri: str) -> bytes:
    out_files: list[dict[str, Any]] = []
    for f in files:
        item: dict[str, Any] = {
            "filename": f.filename,
            "url": file_href(f, release_files=release_files, root_uri=root_uri),
            "hashes": {"sha256": f.sha256},
        }
        if f.requires_python:
            item["requires-python"] = f.requires_python
        if f.size is not None:
            item["size"] = f.size
        if f.upload_time:
            item["upload-time"] = f.upload_time
        item["yanked"] = (f.yanked_reason or True) if f.yanked else False
        if f.has_metadata and f.metadata_sha256:
            item["core-metadata"] = {"sha256": f.metadata_sha256}
            item["data-dist-info-metadata"] = {"sha256": f.metadata_sha256}
        else:
            item["core-metadata"] = False
            item["data-dist-info-metadata"] = False
        out_files.append(item)
    doc = {
        "meta": {"api-version": API_VERSION, "_last-serial": serial},
        "name": name,
        "versions": list(versions),
        "files": out_files,
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def render_root_html(projects: dict[str, ProjectRecord]) -> bytes:
    parts = [
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple Index</title>\n  </head>\n  <body>\n"
    ]
    parts.extend(
        f'    <a href="{quote(norm)}/">{html.escape(rec.display_name)}</a><br/>\n'
        for norm, rec in sorted(projects.items())
    )
    parts.append("  </body>\n</html>\n")
    return "".join(parts).encode("utf-8")


def render_root_json(projects: dict[str, ProjectRecord], serial: int) -> bytes:
    doc = {
        "meta": {"api-version": API_VERSION, "_last-serial": serial},
        "projects": [
            {"name": rec.display_name, "_last-serial": rec.serial} for _, rec in sorted(projects.items())
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


# -- reading pages back ------------------------------------------------------------------------

def read_root_index(simple_dir: Path) -> dict[str, ProjectRecord]:
    """Projects the mirror lists, with serials: from index.v1_json, else index.html + pages."""
    from mirror_tool.names import normalize

    jpath = simple_dir / "index.v1_json"
    try:
        data = json.loads(jpath.read_bytes())
        return {
            normalize(p["name"]): ProjectRecord(p["name"], int(p.get("_last-serial", 0)))
            for p in data.get("projects", [])
        }
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError):
        pass
    hpath = simple_dir / "index.html"
    try:
        text = hpath.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    out: dict[str, ProjectRecord] = {}
    for href, label in _HREF_RE.findall(text):
        norm = unquote(href).strip("/")
        serial = read_page_serial(simple_dir / norm) or 0
        out[norm] = ProjectRecord(html.unescape(label), serial)
    return out


def read_page_serial(project_dir: Path) -> int | None:
    """The serial a project page was written for (None: no page)."""
    for name in ("index.v1_json", "index.html"):
        path = project_dir / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        if name.endswith("json"):
            try:
                return int(json.loads(data)["meta"]["_last-serial"])
            except (ValueError, KeyError, TypeError):
                continue
        match = _SERIAL_RE.search(data)
        if match:
            return int(match.group(1))
    return None


def page_file_hrefs(project_dir: Path) -> list[tuple[str, str | None]]:
    """(href without fragment, sha256 or None) for every file link of a project's pages."""
    out: dict[str, str | None] = {}
    jpath = project_dir / "index.v1_json"
    try:
        data = json.loads(jpath.read_bytes())
        for f in data.get("files", []):
            out[f["url"]] = (f.get("hashes") or {}).get("sha256")
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError):
        pass
    for name in ("index.html", "index.v1_html"):
        try:
            text = (project_dir / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        for href, _label in _HREF_RE.findall(text):
            href = html.unescape(href)
            url, _, frag = href.partition("#")
            sha = frag[len("sha256="):] if frag.startswith("sha256=") else None
            out.setdefault(url, sha)
    return list(out.items())


def local_rel_path(href: str, root_uri: str) -> str | None:
    """`packages/...` for an href the mirror wrote, None for upstream links."""
    if root_uri and href.startswith(root_uri.rstrip("/") + "/"):
        href = href[len(root_uri.rstrip("/")) + 1:]
    elif href.startswith("../../"):
        href = href[len("../../"):]
    elif href.startswith("/packages/"):
        href = href[1:]
    elif urlsplit(href).scheme:
        return None
    href = unquote(href)
    if not href.startswith("packages/") or ".." in href.split("/"):
        return None
    return href
