"""Rendering project pages (HTML and PEP 691 JSON), the root index, and the JSON API copies."""

from __future__ import annotations

import html
import json
from typing import Any, Iterable, Mapping
from urllib.parse import quote

from mirror_tool.index.read import IndexEntry
from mirror_tool.records import Project, ReleaseFile

API_VERSION = "1.1"


def file_href(f: ReleaseFile, *, release_files: bool, root_uri: str) -> str:
    """Link to a file from `simple/<project>/`: relative, root_uri-based, or upstream's URL."""
    if not release_files or f.key is None:
        return f.url.split("#", 1)[0]
    path = quote(f.key, safe="/")
    if root_uri:
        return f"{root_uri.rstrip('/')}/{path}"
    return f"../../{path}"


def file_digest(f: ReleaseFile, digest: str) -> tuple[str, str]:
    """(name, hex) of the hash a link names: `digest` when the record has it, else sha256."""
    value = {"md5": f.md5, "blake2b_256": f.blake2b_256}.get(digest) if digest != "sha256" else None
    return (digest, value) if value else ("sha256", f.sha256)


def project_html(project: Project, *, release_files: bool, root_uri: str, digest: str = "sha256",
                 core_metadata: bool = True) -> bytes:
    """The PEP 503 page, headed by the display name, ending with the serial comment (`digest`:
    the hash the links name; `core_metadata` false: no `.metadata` advertised)."""
    name = html.escape(project.name)
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        f"    <title>Links for {name}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {name}</h1>",
    ]
    for f in project.files:
        algorithm, value = file_digest(f, digest)
        href = html.escape(f"{file_href(f, release_files=release_files, root_uri=root_uri)}#{algorithm}={value}")
        attrs = [f'href="{href}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
        if core_metadata and f.has_metadata and f.metadata_sha256:
            attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
        if f.yanked:
            attrs.append(f'data-yanked="{html.escape(f.yanked_reason or "")}"')
        lines.append(f"    <a {' '.join(attrs)}>{html.escape(f.filename)}</a><br/>")
    lines += ["  </body>", "</html>", f"<!--SERIAL {project.serial}-->", ""]
    return "\n".join(lines).encode("utf-8")


def project_json(project: Project, *, release_files: bool, root_uri: str, digest: str = "sha256",
                 core_metadata: bool = True) -> bytes:
    """The PEP 691 page (`name` is the normalized name, as PEP 691 has it). `hashes` always keep
    sha256 (verify reads it), with `digest` beside it; `core_metadata` false leaves the
    core-metadata keys out (as bandersnatch does)."""
    out_files: list[dict[str, Any]] = []
    for f in project.files:
        algorithm, value = file_digest(f, digest)
        item: dict[str, Any] = {
            "filename": f.filename,
            "url": file_href(f, release_files=release_files, root_uri=root_uri),
            "hashes": {algorithm: value, "sha256": f.sha256},
        }
        if f.requires_python:
            item["requires-python"] = f.requires_python
        if f.size is not None:
            item["size"] = f.size
        if f.upload_time:
            item["upload-time"] = f.upload_time
        item["yanked"] = (f.yanked_reason or True) if f.yanked else False
        if not core_metadata:
            pass
        elif f.has_metadata and f.metadata_sha256:
            item["core-metadata"] = {"sha256": f.metadata_sha256}
            item["data-dist-info-metadata"] = {"sha256": f.metadata_sha256}
        else:
            item["core-metadata"] = False
            item["data-dist-info-metadata"] = False
        out_files.append(item)
    doc = {
        "meta": {"api-version": API_VERSION, "_last-serial": project.serial},
        "name": project.normalized,
        "versions": list(project.versions),
        "files": out_files,
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def root_html(projects: Mapping[str, IndexEntry]) -> bytes:
    parts = [
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple Index</title>\n  </head>\n  <body>\n"
    ]
    parts.extend(
        f'    <a href="{quote(norm)}/">{html.escape(entry.name)}</a><br/>\n' for norm, entry in sorted(projects.items())
    )
    parts.append("  </body>\n</html>\n")
    return "".join(parts).encode("utf-8")


def root_json(projects: Mapping[str, IndexEntry], serial: int) -> bytes:
    doc = {
        "meta": {"api-version": API_VERSION, "_last-serial": serial},
        "projects": [{"name": entry.name, "_last-serial": entry.serial} for _, entry in sorted(projects.items())],
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def json_copy(raw_json: bytes, files: Iterable[ReleaseFile], *, root_uri: str, release_files: bool,
              versions: Iterable[str] | None = None) -> bytes:
    """The upstream project JSON holding only what the mirror publishes: the entries of `files`
    (those it admitted and did not refuse), with their URLs pointing at `/packages/...` when it
    stores them; `releases` keeps only `versions` (when given) and drops a release whose files
    were all left out."""
    doc = json.loads(raw_json)
    files = list(files)
    kept = {(f.filename, f.url) for f in files}
    base = root_uri.rstrip("/") if root_uri else ""
    mirror_urls = {f.url: f"{base}/{f.key}" for f in files if f.key} if release_files else {}
    releases = doc.get("releases") if isinstance(doc, dict) else None
    had_files = {v for v, fl in releases.items() if fl} if isinstance(releases, dict) else set()

    def edit(items: list[Any]) -> list[Any]:
        out = [item for item in items if isinstance(item, dict) and (item.get("filename"), item.get("url")) in kept]
        return [_with_url(item, mirror_urls) for item in out]

    _edit_file_lists(doc, edit)
    if isinstance(releases, dict):
        allowed = set(versions) if versions is not None else None
        doc["releases"] = {
            v: fl for v, fl in doc["releases"].items()
            if (allowed is None or v in allowed) and (fl or v not in had_files)
        }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def json_copy_without(raw_json: bytes, filenames: set[str]) -> bytes | None:
    """A JSON copy without the entries of `filenames` (None when `raw_json` is not a JSON object)."""
    try:
        doc = json.loads(raw_json)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    _edit_file_lists(doc, lambda items: [i for i in items if not (isinstance(i, dict) and i.get("filename") in filenames)])
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def _with_url(item: Any, mirror_urls: dict[str, str]) -> Any:
    if isinstance(item, dict) and item.get("url") in mirror_urls:
        item["url"] = mirror_urls[item["url"]]
    return item


def _edit_file_lists(doc: Any, edit: Any) -> None:
    """Apply `edit` to every file list of a JSON API document (`releases` values and `urls`)."""
    if not isinstance(doc, dict):
        return
    releases = doc.get("releases")
    if isinstance(releases, dict):
        doc["releases"] = {v: edit(fl) if isinstance(fl, list) else fl for v, fl in releases.items()}
    if isinstance(doc.get("urls"), list):
        doc["urls"] = edit(doc["urls"])


__all__ = ["API_VERSION", "file_href", "json_copy", "json_copy_without", "project_html", "project_json", "root_html", "root_json"]
