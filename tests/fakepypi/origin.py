"""The origin: maps GET paths to simple pages, JSON API documents and files.

Every page is rendered from a store view at a serial (``at``: None for now, or the serial a CDN
pin asks for). Rendered bodies are cached by (route, project, Accept variant, effective serial),
which is only ever correct-or-missing because a project's view changes only with its own serial.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from . import json_api, negotiation, simple_pages
from .names import normalize
from .response import Response, json_response
from .store import Store

_SIMPLE = re.compile(r"^/simple/([^/]+)(/?)$")
_JSON = re.compile(r"^/pypi/([^/]+)/json/?$")
_RELEASE_JSON = re.compile(r"^/pypi/([^/]+)/([^/]+)/json/?$")
_FILE = re.compile(r"^/packages/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{60})/([^/]+)$")
SMALL_INDEX = 5000
NOT_FOUND_JSON = {"message": "Not Found"}
PAGE_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Route:
    """What a path names: ``kind`` in index/simple/json/release/file/metadata/other."""

    kind: str
    name: str = ""
    version: str = ""
    b2: str = ""
    filename: str = ""
    slash: bool = True

    @property
    def normalized(self) -> str | None:
        return normalize(self.name) if self.kind in ("simple", "json", "release") else None

    @property
    def redirects(self) -> bool:
        """Non-normalized spellings (and /simple/<name> without slash) answer 301."""
        if self.kind not in ("simple", "json", "release"):
            return False
        return self.name != normalize(self.name) or (self.kind == "simple" and not self.slash)

    @property
    def cdn_cached(self) -> bool:
        return self.kind in ("index", "simple", "json", "release")


def parse_route(path: str) -> Route:
    if path == "/simple/" or path == "/simple":
        return Route("index")
    if m := _SIMPLE.match(path):
        return Route("simple", name=m[1], slash=bool(m[2]))
    if m := _JSON.match(path):
        return Route("json", name=m[1])
    if m := _RELEASE_JSON.match(path):
        return Route("release", name=m[1], version=m[2])
    if m := _FILE.match(path):
        filename = m[4]
        kind = "file"
        if filename.endswith(".metadata"):
            kind, filename = "metadata", filename[: -len(".metadata")]
        return Route(kind, b2=m[1] + m[2] + m[3], filename=filename)
    return Route("other")


class Origin:
    def __init__(self, store: Store, base_url: Callable[[], str]) -> None:
        self.store = store
        self.base_url = base_url
        self.offers: tuple[str, ...] = negotiation.OFFERS  # without V1_JSON: an HTML-only upstream
        self._cache: OrderedDict[tuple, Response] = OrderedDict()
        self._lock = threading.Lock()

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple, make: Callable[[], Response]) -> Response:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        resp = make()
        if isinstance(resp.body, bytes):
            with self._lock:
                self._cache[key] = resp
                while len(self._cache) > PAGE_CACHE_SIZE:
                    self._cache.popitem(last=False)
        return resp

    def page(self, route: Route, accept: str | None, fmt: str | None, at: int | None) -> Response:
        """A simple / JSON API page (GET or HEAD), fresh or as of serial ``at``."""
        if route.kind == "index":
            return self._index(negotiation.choose(accept, fmt, self.offers), at)
        norm = normalize(route.name)
        if route.kind == "simple":
            if route.name != norm or not route.slash:
                return Response(301, b"", [("Location", f"/simple/{norm}/")])
            ctype = negotiation.choose(accept, fmt, self.offers)
            serial = self.store.project_serial(norm, at)
            return self._cached(("simple", norm, ctype, serial), lambda: self._simple(norm, ctype, at))
        if route.kind in ("json", "release"):
            if route.name != norm:
                target = f"/pypi/{norm}/json" if route.kind == "json" else f"/pypi/{norm}/{route.version}/json"
                return Response(301, b"", [("Location", target)])
            serial = self.store.project_serial(norm, at)
            return self._cached((route.kind, norm, route.version, serial),
                                lambda: self._json(norm, route.version if route.kind == "release" else None, at))
        return Response(404, b"404 Not Found")

    def _simple(self, norm: str, ctype: str, at: int | None) -> Response:
        view = self.store.view(norm, at)
        if view is None:
            return Response(404, b"404 Not Found", [("Vary", "Accept")])
        core = self.store.core_metadata
        if ctype == negotiation.V1_JSON:
            body = simple_pages.project_json(view, self.base_url(), core)
        else:
            body = simple_pages.project_html(view, self.base_url(), core)
        return Response(200, body, _page_headers(view.last_serial), _content_type(ctype))

    def _json(self, norm: str, version: str | None, at: int | None) -> Response:
        view = self.store.view(norm, at)
        body = None
        if view is not None:
            core = self.store.core_metadata
            body = (json_api.project_doc(view, self.base_url(), core) if version is None
                    else json_api.release_doc(view, version, self.base_url(), core))
        if view is None or body is None:
            return json_response(404, NOT_FOUND_JSON)
        headers = [("X-PyPI-Last-Serial", str(view.last_serial)), ("Access-Control-Allow-Origin", "*"),
                   ("Cache-Control", "max-age=900, public")]
        return Response(200, body, headers, "application/json")

    def _index(self, ctype: str, at: int | None) -> Response:
        """Small indexes are rendered once per serial and cached; big ones stream every time."""
        last = self.store.last_serial if at is None else min(at, self.store.last_serial)

        def make() -> Response:
            total = len(self.store.index_explicit(last)) + self.store.index_lazy_count(last)
            projects = self.store.iter_index(last)
            chunks = (simple_pages.index_json(projects, last) if ctype == negotiation.V1_JSON
                      else simple_pages.index_html(projects, last))
            body = b"".join(chunks) if total <= SMALL_INDEX else chunks
            return Response(200, body, _page_headers(last), _content_type(ctype))

        return self._cached(("index", ctype, last), make)

    def file(self, route: Route) -> tuple[Response, bytes | None]:
        """(response without body range handling, full bytes) for a file or its .metadata."""
        rec = self.store.find_file(route.b2, route.filename)
        if rec is None or (route.kind == "metadata" and (not rec.is_wheel or not self.store.core_metadata)):
            return Response(404, b"404 Not Found"), None
        data = self.store.metadata_bytes(rec) if route.kind == "metadata" else self.store.file_bytes(rec)
        digests = self.store.digests(rec)
        headers = [("ETag", f'"{digests["md5"]}"'), ("Cache-Control", "max-age=365000000, immutable, public"),
                   ("Accept-Ranges", "bytes")]
        return Response(200, data, headers, "application/octet-stream"), data


def _content_type(ctype: str) -> str:
    return "text/html; charset=utf-8" if ctype == negotiation.TEXT_HTML else ctype


def _page_headers(serial: int) -> list[tuple[str, str]]:
    return [("X-PyPI-Last-Serial", str(serial)), ("Vary", "Accept"), ("Cache-Control", "max-age=600, public")]


class Unsatisfiable(ValueError):
    """A Range that starts beyond the end of the file (answered with 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Parse a single ``Range: bytes=...``: (start, end inclusive), or None for no / an ignored
    range (the full body is served); raises ``Unsatisfiable`` for a range past the end."""
    if not header or not header.startswith("bytes="):
        return None
    spec = header[len("bytes="):].split(",")[0].strip()
    first, sep, last = spec.partition("-")
    if not sep:
        return None
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                raise Unsatisfiable(header)
            return max(0, size - length), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError as exc:
        if isinstance(exc, Unsatisfiable):
            raise
        return None
    if start >= size or end < start:
        raise Unsatisfiable(header)
    return start, min(end, size - 1)
