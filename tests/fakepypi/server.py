"""``FakePyPI``: a local PyPI upstream (Warehouse origin + a CDN in front), stdlib only.

Why one object: tests, the CLI and the systemd unit all want the same thing, a started server
plus the handles to change and observe it. Every control method here has an HTTP twin under
``/_fake/`` (see ``control.py``) for processes that only have the URL.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from email.message import Message
from typing import Any

from . import negotiation
from .cdn import Cdn
from .control import ControlApi
from .corpus import build_store
from .faults import Faults
from .gzip_encoding import GzipCache
from .handler import FakeHTTPServer
from .names import normalize
from .origin import Origin, Unsatisfiable, byte_range, parse_route
from .response import Response
from .store import FileRec, Store, file_path
from .wan import OFF, Shaper, WanProfile
from .xmlrpc_api import DEFAULT_CHANGELOG_CAP, XmlRpcApi

XMLRPC_PATHS = ("/pypi", "/pypi/", "/RPC2")


class FakePyPI:
    """A fake PyPI. ``start()`` it (or use ``with``), talk to ``base_url``, ``stop()`` it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        projects: int = 8,
        releases: int = 3,
        files: int = 2,
        file_size: int = 2048,
        seed: int = 0,
        index_projects: int = 0,
        changelog_cap: int = DEFAULT_CHANGELOG_CAP,
        purge_mode: str = "auth",
        purge_key: str | None = None,
        core_metadata: bool = True,
        xmlrpc: str = "on",
        xmlrpc_rate_limit: int | None = None,
        xmlrpc_rate_window: float = 60.0,
        public_url: str | None = None,
        simple_json: bool = True,
        request_log_size: int = 100_000,
        wan: WanProfile = OFF,
    ) -> None:
        self.host = host
        self._port = port
        self.public_url = public_url.rstrip("/") if public_url else None
        self.store: Store = build_store(projects=projects, releases=releases, files=files, file_size=file_size,
                                        seed=seed, index_projects=index_projects, core_metadata=core_metadata)
        self.xmlrpc = XmlRpcApi(self.store, mode=xmlrpc, changelog_cap=changelog_cap)
        self.xmlrpc.rate.limit = xmlrpc_rate_limit
        self.xmlrpc.rate.window = xmlrpc_rate_window
        self.cdn = Cdn(purge_mode, purge_key)
        self.faults = Faults(seed)
        self.origin = Origin(self.store, lambda: self.file_base_url)
        self.control = ControlApi(self)
        self.shaper = Shaper(wan)
        self.gzip_cache = GzipCache()
        self.set_simple_json(simple_json)
        self._log: deque[dict] = deque(maxlen=request_log_size)
        self._log_lock = threading.Lock()
        self._httpd: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "FakePyPI":
        """Bind (port 0: any free port) and serve from a daemon thread."""
        if self._httpd is not None:
            return self
        self._httpd = FakeHTTPServer((self.host, self._port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"fakepypi-{self._port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI); returns after ``stop()`` from another thread."""
        if self._httpd is None:
            self._httpd = FakeHTTPServer((self.host, self._port), self)
            self._port = self._httpd.server_address[1]
        self._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop accepting, close open keep-alive connections, release the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakePyPI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def file_base_url(self) -> str:
        """Base of the file URLs written into pages: ``public_url`` if set, else ``base_url``."""
        return self.public_url or self.base_url

    @property
    def index_url(self) -> str:
        """What pip's ``--index-url`` wants."""
        return f"{self.base_url}/simple/"

    # -------------------------------------------------------------- serving
    def handle(self, method: str, path: str, query: str, headers: Message, body: bytes, client: str) -> Response:
        """CDN then origin, for one non-control request."""
        if method == "PURGE":
            key = headers.get("Fastly-Key")
            status, purge_body, extra = self.cdn.purge(path, parse_route(path).normalized, key)
            return Response(status, purge_body, extra, "application/json")
        if method == "POST" and path in XMLRPC_PATHS:
            status, rpc_body = self.xmlrpc.handle(body, client)
            return Response(status, rpc_body, [], "text/xml" if status == 200 else "text/plain")
        if method not in ("GET", "HEAD"):
            return Response(405, b"405 Method Not Allowed", [("Allow", "GET, HEAD, POST, PURGE")])
        if path == "/":
            return Response(200, b"<!DOCTYPE html><html><body><a href=\"/simple/\">simple</a></body></html>\n",
                            [], "text/html; charset=utf-8")
        route = parse_route(path)
        if route.kind in ("file", "metadata"):
            return self._file(route, headers.get("Range"))
        if not route.cdn_cached:
            return Response(404, b"404 Not Found")
        fmt = _query_param(query, "format")
        stale = None if route.redirects else self.cdn.stale_serial(path, route.normalized)
        resp = self.origin.page(route, headers.get("Accept"), fmt, stale)
        cache_state = "HIT, STALE" if stale is not None else "MISS"
        return Response(resp.status, resp.body, resp.headers + [("X-Cache", cache_state)], resp.content_type)

    def _file(self, route: Any, range_header: str | None) -> Response:
        resp, data = self.origin.file(route)
        if data is None:
            return resp
        try:
            rng = byte_range(range_header, len(data))
        except Unsatisfiable:
            return Response(416, b"", [("Content-Range", f"bytes */{len(data)}")])
        if rng is None:
            return resp
        start, end = rng
        headers = resp.headers + [("Content-Range", f"bytes {start}-{end}/{len(data)}")]
        return Response(206, data[start : end + 1], headers, resp.content_type)

    def log_request(self, method: str, path: str, accept: str | None, status: int, nbytes: int,
                    fault_ids: list[int], client: str, wan_delay: float = 0.0,
                    encoding: str | None = None) -> dict:
        entry = {"method": method, "path": path, "accept": accept, "status": status, "bytes": nbytes,
                 "time": time.time(), "faults": fault_ids, "client": client, "wan_delay": wan_delay,
                 "encoding": encoding}
        with self._log_lock:
            self._log.append(entry)
        return entry

    # ------------------------------------------------------- corpus changes
    @property
    def last_serial(self) -> int:
        return self.store.last_serial

    def create_project(self, name: str) -> int:
        """Journal ``create`` + ``add Owner``; returns the new last serial."""
        return self.store.create_project(name)

    def upload(
        self,
        name: str,
        version: str,
        *,
        files: list[str] | None = None,
        requires_python: str | None = None,
        yanked: bool | str = False,
        file_size: int | None = None,
        platforms: list[str] | None = None,
        summary: str | None = None,
        classifiers: list[str] | None = None,
        license: str | None = None,
    ) -> dict:
        """Upload a release's files (default pure wheel + sdist); creates project / release if new.

        Returns ``{"serial": last serial, "files": [file info as in projects()]}``.
        """
        recs = self.store.upload(name, version, files=files, requires_python=requires_python, yanked=yanked,
                                 file_size=file_size, platforms=platforms, summary=summary,
                                 classifiers=classifiers, license=license)
        return {"serial": self.last_serial, "files": [self._file_info(r) for r in recs]}

    def yank(self, name: str, version: str, reason: str = "") -> int:
        return self.store.yank(name, version, reason)

    def unyank(self, name: str, version: str) -> int:
        return self.store.unyank(name, version)

    def remove_file(self, name: str, filename: str) -> int:
        return self.store.remove_file(name, filename)

    def remove_release(self, name: str, version: str) -> int:
        return self.store.remove_release(name, version)

    def remove_project(self, name: str) -> int:
        return self.store.remove_project(name)

    # ----------------------------------------------------------------- CDN
    def pin_stale(self, name: str, serial: int | None = None) -> int:
        """Serve every page of project ``name`` (simple in all Accept variants, /pypi/<name>/json
        under any spelling, release JSON) as of ``serial`` (default: now, i.e. freeze the current
        pages) until purged or unpinned. Returns the pinned serial."""
        serial = self.last_serial if serial is None else int(serial)
        self.cdn.pin_project(normalize(name), serial)
        return serial

    def pin_stale_url(self, path: str, serial: int | None = None, *, requests: int | None = None) -> int:
        """Pin one page's URL path (e.g. ``/simple/``, ``/pypi/foo/json``; all Accept variants) to
        its rendering at ``serial`` (default now), until purged or for the next ``requests``."""
        serial = self.last_serial if serial is None else int(serial)
        self.cdn.pin_url(path, serial, remaining=None if requests is None else int(requests))
        return serial

    def serve_stale_for(self, name: str, n: int, serial: int | None = None) -> int:
        """Like ``pin_stale`` but only for the next ``n`` page requests of that project."""
        serial = self.last_serial if serial is None else int(serial)
        self.cdn.pin_project(normalize(name), serial, remaining=int(n))
        return serial

    def unpin(self, name: str) -> None:
        self.cdn.unpin_project(normalize(name))

    def unpin_url(self, path: str) -> None:
        self.cdn.unpin_url(path)

    def unpin_all(self) -> None:
        self.cdn.unpin_all()

    def pins(self) -> dict:
        return self.cdn.pins()

    def set_purge_mode(self, mode: str, key: str | None = None) -> None:
        """``auth`` (401 unless ``Fastly-Key`` equals ``key``) or ``open``."""
        self.cdn.set_purge_mode(mode, key)

    def purges(self) -> list[dict]:
        """Every PURGE: ``{"path", "status", "key_sent", "time", "id"}``, oldest first."""
        return self.cdn.purges()

    # --------------------------------------------------------- observation
    def requests(self) -> list[dict]:
        """Request log (control API excluded): ``{"method", "path", "accept", "status", "bytes",
        "time", "faults", "client", "wan_delay", "encoding"}``, oldest first. ``bytes`` are the
        body bytes sent (compressed when ``encoding`` is ``gzip``); ``wan_delay`` the seconds the
        WAN profile held the first byte back (round trip, plus setup on a new connection)."""
        with self._log_lock:
            return [dict(e) for e in self._log]

    def clear_log(self) -> None:
        """Forget the request log and the PURGE log."""
        with self._log_lock:
            self._log.clear()
        self.cdn.clear_purges()

    def projects(self) -> dict[str, dict]:
        """Explicit (non-lazy) live projects: normalized -> {name, last_serial, releases: {version:
        {yanked, yanked_reason, requires_python, files: [file info]}}}."""
        out: dict[str, dict] = {}
        for name in self.store.explicit_names():
            info = self.project(name)
            if info is not None:
                out[normalize(name)] = info
        return dict(sorted(out.items()))

    def project(self, name: str) -> dict | None:
        view = self.store.view(name)
        if view is None:
            return None
        releases = {}
        for rel in view.releases:
            releases[rel.version] = {
                "yanked": rel.yanked, "yanked_reason": rel.yanked_reason, "requires_python": rel.requires_python,
                "files": [self._file_view_info(f) for f in rel.files],
            }
        return {"name": view.display, "last_serial": view.last_serial, "releases": releases}

    def _file_info(self, rec: FileRec) -> dict:
        return self._file_view_info(self.store.file_view(rec, None, self.last_serial))

    def _file_view_info(self, f: Any) -> dict:
        return {"filename": f.filename, "url": self.file_base_url + f.path, "path": f.path, "sha256": f.sha256,
                "md5": f.md5, "blake2b_256": f.blake2b_256, "size": f.size, "packagetype": f.rec.packagetype,
                "python_version": f.rec.python_version, "metadata_sha256": f.metadata_sha256}

    def _live_file(self, filename: str) -> FileRec:
        rec = self.store.live_file(filename)
        if rec is None:
            raise KeyError(f"no live file named {filename}")
        return rec

    def file_bytes(self, filename: str) -> bytes:
        """Bytes of a live explicit file (what a correct download must hash to)."""
        return self.store.file_bytes(self._live_file(filename))

    def file_url(self, filename: str) -> str:
        rec = self._live_file(filename)
        return self.file_base_url + file_path(self.store.digests(rec)["blake2b_256"], filename)

    def journal(self, since: int = 0, limit: int = 1_000_000) -> list[list]:
        """Changelog rows ``[name, version, timestamp, action, serial]`` after ``since``."""
        return [list(r) for r in self.store.journal.since(since, limit)]

    # ------------------------------------------------------------ switches
    def add_fault(
        self,
        kind: str,
        *,
        path: str | None = None,
        prefix: str | None = None,
        regex: str | None = None,
        status: int = 500,
        fraction: float = 1.0,
        count: int | None = None,
        latency: float = 0.0,
    ) -> int:
        """Inject a fault (``kind``: status | cut | bad_hash | latency); returns its id."""
        return self.faults.add(kind, path=path, prefix=prefix, regex=regex, status=status,
                               fraction=fraction, count=count, latency=latency)

    def remove_fault(self, fault_id: int) -> None:
        self.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self.faults.clear()

    def list_faults(self) -> list[dict]:
        return self.faults.list()

    def set_xmlrpc(self, mode: str | None = None, *, rate_limit: int | None | str = "keep",
                   rate_window: float | None = None, changelog_cap: int | None = None) -> None:
        """Switch XML-RPC (``on`` | ``fault`` | ``404``), its per-client rate limit
        (calls per window; None = off) and the changelog page cap."""
        if mode is not None:
            if mode not in ("on", "fault", "404"):
                raise ValueError(f"xmlrpc mode must be on, fault or 404, not {mode!r}")
            self.xmlrpc.mode = mode
        if rate_limit != "keep":
            self.xmlrpc.rate.limit = None if rate_limit is None else int(rate_limit)
            self.xmlrpc.rate.reset()
        if rate_window is not None:
            self.xmlrpc.rate.window = float(rate_window)
        if changelog_cap is not None:
            self.xmlrpc.changelog_cap = int(changelog_cap)

    def lag_xmlrpc(self, serial: int | None, calls: int | None = None) -> None:
        """The change feed (``changelog_last_serial``, ``changelog_since_serial``) answers as of
        ``serial`` for the next ``calls`` calls (None: until ``lag_xmlrpc(None)``)."""
        self.xmlrpc.set_lag(serial, calls)

    def set_core_metadata(self, enabled: bool) -> None:
        """Off: act like an older upstream (no PEP 658/714 keys, no ``.metadata`` files)."""
        self.store.core_metadata = bool(enabled)
        self.origin.clear_cache()

    def set_simple_json(self, enabled: bool) -> None:
        """Off: never negotiate PEP 691 JSON (an HTML-only upstream; pip then parses HTML)."""
        self.simple_json = bool(enabled)
        offers = negotiation.OFFERS
        self.origin.offers = offers if enabled else tuple(o for o in offers if o != negotiation.V1_JSON)
        self.origin.clear_cache()

    # ----------------------------------------------------------------- WAN
    @property
    def wan(self) -> WanProfile:
        return self.shaper.profile

    def set_wan(self, profile: WanProfile) -> None:
        """Change the WAN shaping; open connections follow from their next request / write."""
        self.shaper.profile = profile

    def state(self) -> dict:
        return {
            "base_url": self.base_url,
            "last_serial": self.last_serial,
            "projects": len(self.store.explicit_names()),
            "index_projects": len(self.store.explicit_names()) + self.store.lazy.count,
            "purge_mode": self.cdn.purge_mode,
            "xmlrpc": self.xmlrpc.mode,
            "xmlrpc_rate_limit": self.xmlrpc.rate.limit,
            "changelog_cap": self.xmlrpc.changelog_cap,
            "core_metadata": self.store.core_metadata,
            "simple_json": self.simple_json,
            "pins": self.pins(),
            "faults": self.list_faults(),
            "wan": self.wan.as_dict(),
        }


def _query_param(query: str, key: str) -> str | None:
    if not query:
        return None
    from urllib.parse import parse_qs

    values = parse_qs(query).get(key)
    # an unencoded "+" in "...v1+json" arrives as a space
    return values[0].replace(" ", "+") if values else None
