"""The HTTP stacks behind the upstream client, in one place (to be replaced by the net layer).

Project JSON, release files and the XML-RPC feed go through `http11` on per-thread keep-alive
connections: a 20 KB GET costs a fraction of the CPU it costs through `requests` (or
`http.client`, whose header parsing alone was a quarter of a full sync's CPU), and they are the
bulk of a sync. The PEP 691 index and pages (fallback paths) use one `requests.Session` per
thread, imported only when first needed. Every failure to get an answer is an `OSError`
(`requests`' exceptions are OSErrors too).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urljoin, urlsplit

from mirror_tool import __version__
from mirror_tool.errors import ProjectError
from mirror_tool.names import check_http_url
from mirror_tool.upstream import http11

if TYPE_CHECKING:
    import requests

USER_AGENT = f"pypi-mirror/{__version__} (mirror_tool)"
MAX_REDIRECTS = 5
Response = http11.Response


@dataclass
class Document:
    """A whole answer read by the session: status, headers (case-insensitive), body, final URL."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


class Transport:
    """Connections to the upstream's hosts; every method is safe to call from several threads."""

    def __init__(self, timeout: float, pool_size: int) -> None:
        self.timeout = timeout
        self.pool_size = max(2, pool_size)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list["requests.Session"] = []
        self._conns: list[http11.Connection] = []  # every keep-alive connection, for close()

    def get(self, url: str, headers: dict[str, str]) -> tuple[http11.Response, list[str]]:
        """GET `url` on this thread's connection to its host, following up to 5 redirects.

        Returns the final response (body unread: read it, or `abandon()` it) and the URLs
        redirected to, in order.
        """
        conns: dict[tuple[str, str], http11.Connection] = self._local.__dict__.setdefault("conns", {})
        visited: list[str] = []
        all_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        for _hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            key = (parts.scheme, parts.netloc)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn = conns.get(key)
            if conn is None:
                conn = conns[key] = http11.Connection(parts.scheme, parts.hostname or "", parts.port, self.timeout)
                with self._lock:
                    self._conns.append(conn)
            reused = not conn.fresh
            try:
                resp = conn.request("GET", target, all_headers)
            except (http11.ConnectionClosed, BrokenPipeError, ConnectionResetError):
                if not reused:  # a fresh connection failing is a real error
                    raise
                # the server closed an idle keep-alive connection: retry once on a new one
                resp = conn.request("GET", target, all_headers)
            location = resp.getheader("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                resp.read_all()
                url = check_http_url(urljoin(url, location))
                visited.append(url)
                continue
            return resp, visited
        raise ProjectError(f"GET {url}: too many redirects")

    def post(self, url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        """POST `body` on a new connection; (status, content)."""
        parts = urlsplit(url)
        conn = http11.Connection(parts.scheme, parts.hostname or "", parts.port, self.timeout)
        try:
            resp = conn.request(
                "POST",
                parts.path or "/",
                {"Content-Type": content_type, "User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
                body,
            )
            return resp.status, resp.read_all()
        finally:
            conn.close()

    def get_document(self, url: str, headers: dict[str, str]) -> Document:
        """GET `url` through this thread's `requests` session (redirects followed), whole body."""
        resp = self._session().get(url, headers=headers, timeout=self.timeout)
        return Document(resp.status_code, resp.headers, resp.content, resp.url)

    def _session(self) -> "requests.Session":
        sess = getattr(self._local, "session", None)
        if sess is None:
            import requests
            from requests.adapters import HTTPAdapter

            sess = requests.Session()
            adapter = HTTPAdapter(pool_connections=self.pool_size, pool_maxsize=self.pool_size, max_retries=0)
            sess.mount("http://", adapter)
            sess.mount("https://", adapter)
            sess.headers["User-Agent"] = USER_AGENT
            sess.trust_env = False  # never route mirror traffic through an environment proxy
            self._local.session = sess
            with self._lock:
                self._sessions.append(sess)
        return sess

    def close(self) -> None:
        """Close every session and keep-alive connection."""
        with self._lock:
            for sess in self._sessions:
                sess.close()
            self._sessions.clear()
            for conn in self._conns:
                conn.close()
            self._conns.clear()


__all__ = ["Document", "Response", "Transport", "USER_AGENT"]
