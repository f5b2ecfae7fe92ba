"""An upstream that misbehaves on purpose, over http or https: the failures the net layer must end.

FakePyPI serves a correct index; the network layer's guarantees need a server that drips one byte
a second, never answers, sends a gzip bomb, rate-limits with `Retry-After`, redirects elsewhere,
or only accepts connections from one address (so a test can prove a request came through a proxy).
Each route is a behaviour; every request is recorded (method, path, peer address, headers).
Stdlib only; binds 127.0.0.x port 0; `stop()` also releases requests it holds.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Behaviour = Callable[["_Handler"], None]


@dataclass
class Seen:
    method: str
    path: str
    peer: str
    headers: dict[str, str]


class HostileUpstream:
    """`HostileUpstream(host, tls=ctx, only_from=addr).start()`; add routes with the builders below."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None,
                 only_from: str | None = None) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.seen: list[Seen] = []
        self.refused_peers: list[str] = []
        self.connections = 0  # connections accepted
        self.release = threading.Event()
        self.only_from = only_from
        outer = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                outer.connections += 1
                if outer.only_from is not None and client_address[0] != outer.only_from:
                    outer.refused_peers.append(client_address[0])
                    return False  # closed without an answer, like a filtered port
                return True

        class Handler(_Handler):
            upstream = outer

        self.server = Server((host, 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.scheme = "https" if tls is not None else "http"
        self.host = host
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def start(self) -> "HostileUpstream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "HostileUpstream":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    # -- behaviours ---------------------------------------------------------------------------
    def ok(self, path: str, body: bytes, headers: dict[str, str] | None = None, status: int = 200) -> None:
        self.routes[path] = lambda h: h.answer(status, body, headers or {})

    def drip(self, path: str, size: int, interval: float = 1.0) -> None:
        """Announce `size` bytes, then send one every `interval` seconds (a slow upstream)."""

        def run(h: _Handler) -> None:
            h.head(200, {"Content-Length": str(size)})
            for _ in range(size):
                if self.release.wait(interval):
                    return
                h.wfile.write(b"x")
                h.wfile.flush()

        self.routes[path] = run

    def hang(self, path: str) -> None:
        """Read the request, never answer (until stop)."""
        self.routes[path] = lambda h: self.release.wait(600)

    def gzip_bomb(self, path: str, plain_size: int) -> int:
        """Serve `plain_size` zero bytes gzipped (a few hundred KB per GB); returns the wire size."""
        body = _gzip_zeros(plain_size)
        self.routes[path] = lambda h: h.answer(200, body, {"Content-Encoding": "gzip",
                                                           "Content-Type": "application/json"})
        return len(body)

    def rate_limited(self, path: str, times: int, retry_after: str, body: bytes = b"{}") -> None:
        """429 with `Retry-After` for the first `times` requests, then 200 with `body`."""
        count = [0]

        def run(h: _Handler) -> None:
            count[0] += 1
            if count[0] <= times:
                h.answer(429, b"slow down\n", {"Retry-After": retry_after})
            else:
                h.answer(200, body, {"Content-Type": "application/json"})

        self.routes[path] = run

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = lambda h: h.answer(status, b"", {"Location": location})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: HostileUpstream

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ssl.SSLError, ConnectionError, socket.timeout):
            self.close_connection = True

    def head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.head(status, {**headers, "Content-Length": str(len(body))})
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        up = self.upstream
        up.seen.append(Seen(self.command, self.path, self.client_address[0], dict(self.headers.items())))
        behaviour = up.routes.get(self.path.split("?", 1)[0])
        if behaviour is None:
            self.answer(404, b"not found\n", {})
        else:
            behaviour(self)

    do_GET = do_POST = do_HEAD = do_PURGE = _dispatch  # noqa: N815


def _gzip_zeros(size: int) -> bytes:
    """gzip of `size` zero bytes, made in pieces (never `size` bytes in memory)."""
    import zlib

    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = bytes(1 << 20)
    out = []
    left = size
    while left:
        n = min(left, len(piece))
        out.append(comp.compress(piece[:n]))
        left -= n
    out.append(comp.flush())
    return b"".join(out)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `predicate` until true or `timeout` (for conditions set by other threads)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


__all__ = ["HostileUpstream", "Seen", "wait_for"]
