"""PEP 503 / 691 / 700 / 714 simple pages (repository version 1.4).

Index pages are generators of byte chunks so a 700,000-project index streams in constant memory.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Iterable, Iterator

from .names import version_key
from .store import FileView, ProjectView

API_VERSION = "1.4"
CHUNK_PROJECTS = 2000


def iso_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _files(view: ProjectView) -> list[tuple[FileView, str]]:
    out = [(f, rel.version) for rel in view.releases for f in rel.files]
    out.sort(key=lambda fv: (version_key(fv[1]), fv[0].filename))
    return out


def project_html(view: ProjectView, base_url: str, core_metadata: bool) -> bytes:
    name = html.escape(view.display)
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
    for f, _version in _files(view):
        attrs = [f'href="{html.escape(base_url + f.path)}#sha256={f.sha256}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
        if f.yanked:
            attrs.append(f'data-yanked="{html.escape(f.yanked_reason)}"')
        if core_metadata and f.metadata_sha256:
            attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
        lines.append(f"    <a {' '.join(attrs)}>{html.escape(f.filename)}</a><br />")
    lines += ["  </body>", "</html>", f"<!--SERIAL {view.last_serial}-->", ""]
    return "\n".join(lines).encode()


def project_json(view: ProjectView, base_url: str, core_metadata: bool) -> bytes:
    files = []
    for f, _version in _files(view):
        entry: dict = {
            "filename": f.filename,
            "url": base_url + f.path,
            "hashes": {"sha256": f.sha256},
            "requires-python": f.requires_python,
            "yanked": (f.yanked_reason or True) if f.yanked else False,
            "size": f.size,
            "upload-time": iso_time(f.rec.upload_time),
        }
        if core_metadata:
            meta = {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
            entry["core-metadata"] = meta
            entry["data-dist-info-metadata"] = meta
        files.append(entry)
    doc = {
        "meta": {"api-version": API_VERSION, "_last-serial": view.last_serial},
        "name": view.normalized,
        "versions": [r.version for r in view.releases],
        "files": files,
        "project-status": {"status": "active"},
    }
    return json.dumps(doc).encode()


def index_html(projects: Iterable[tuple[str, str, int]], last_serial: int) -> Iterator[bytes]:
    yield (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple index</title>\n  </head>\n  <body>\n"
    ).encode()
    buf: list[str] = []
    for display, norm, _serial in projects:
        buf.append(f'    <a href="/simple/{norm}/">{html.escape(display)}</a>\n')
        if len(buf) >= CHUNK_PROJECTS:
            yield "".join(buf).encode()
            buf.clear()
    buf.append(f"  </body>\n</html>\n<!--SERIAL {last_serial}-->\n")
    yield "".join(buf).encode()


def index_json(projects: Iterable[tuple[str, str, int]], last_serial: int) -> Iterator[bytes]:
    yield ('{"meta": {"api-version": "%s", "_last-serial": %d}, "projects": [' % (API_VERSION, last_serial)).encode()
    buf: list[str] = []
    first = True
    for display, _norm, serial in projects:
        buf.append('%s{"name": %s, "_last-serial": %d}' % ("" if first else ", ", json.dumps(display), serial))
        first = False
        if len(buf) >= CHUNK_PROJECTS:
            yield "".join(buf).encode()
            buf.clear()
    buf.append("]}")
    yield "".join(buf).encode()
