"""HTTP plumbing: parse a request, ask the app for a Response, write it out (or break it).

Why custom writing instead of ``send_response``/``send_header``: one ``sendall`` per small
response (status line, headers and body together) with Nagle off is what keeps keep-alive GETs
in the thousands per second on loopback; it is also where the "cut mid-body" fault lives.
"""

from __future__ import annotations

import socket
import sys
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Iterator
from urllib.parse import unquote, urlsplit

from . import gzip_encoding
from .faults import corrupt
from .response import Response

if TYPE_CHECKING:
    from .server import FakePyPI

MAX_BODY = 64 * 1024 * 1024


class FakeHTTPServer(ThreadingHTTPServer):
    """Threaded server that remembers its open connections so ``stop()`` can close them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], app: "FakePyPI") -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        super().__init__(address, Handler)

    def process_request_thread(self, request, client_address):  # type: ignore[no-untyped-def]
        self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.discard(request)

    def close_connections(self) -> None:
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakepypi"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections eventually free their thread
    server: FakeHTTPServer

    def setup(self) -> None:
        """Route every write through the WAN pacer; the first response pays the connection setup."""
        super().setup()
        self.wfile = self.server.app.shaper.writer(self.wfile)  # type: ignore[assignment]
        self.new_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        """Silence per-request stderr lines; the app keeps its own request log."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PURGE(self) -> None:
        self._dispatch("PURGE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        n = int(length)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n)

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        path = unquote(url.path) or "/"
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._write(Response(400, b"bad request"), method)
            return
        if path.startswith("/_fake/"):
            try:
                resp = app.control.handle(method, path, url.query, body)
            except Exception:  # noqa: BLE001 - report, never kill the connection thread
                traceback.print_exc()
                resp = Response(500, traceback.format_exc().encode())
            self._write(resp, method)
            return
        wan = app.shaper.profile
        wan_delay = wan.first_byte_delay(self.new_connection)
        self.new_connection = False
        decision = app.faults.decide(path)
        if decision.latency + wan_delay > 0:
            time.sleep(decision.latency + wan_delay)
        if decision.status is not None:
            resp = Response(decision.status, f"{decision.status} injected fault\n".encode())
        else:
            try:
                resp = app.handle(method, path, url.query, self.headers, body, self.client_address[0])
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                resp = Response(500, b"500 Internal Server Error")
        if decision.bad_hash:
            resp = _corrupted(resp)
        if (wan.gzip and gzip_encoding.compressible(resp)
                and gzip_encoding.accepts_gzip(self.headers.get("Accept-Encoding"))):
            resp = gzip_encoding.encode(resp, self.path, app.gzip_cache)
        # Log before writing so a client that has read the response always finds its entry;
        # the byte count is corrected afterwards for streamed or broken bodies.
        entry = app.log_request(method, path, self.headers.get("Accept"), resp.status,
                                _planned_bytes(resp, method, decision.cut), decision.rule_ids,
                                self.client_address[0], wan_delay, resp.header("Content-Encoding"))
        sent = self._write(resp, method, cut=decision.cut)
        if entry["bytes"] != sent:
            entry["bytes"] = sent

    def _write(self, resp: Response, method: str, cut: bool = False) -> int:
        """Send the response; returns body bytes sent (what the request log records)."""
        reason = HTTPStatus(resp.status).phrase if resp.status in HTTPStatus._value2member_map_ else ""
        head = [f"HTTP/1.1 {resp.status} {reason}\r\n", "Server: fakepypi\r\n", f"Date: {_http_date()}\r\n",
                f"Content-Type: {resp.content_type}\r\n"]
        head += [f"{k}: {v}\r\n" for k, v in resp.headers]
        streamed = not isinstance(resp.body, (bytes, bytearray))
        if streamed and self.request_version == "HTTP/1.0":
            self.close_connection = True
        chunked = streamed and not self.close_connection
        if chunked:
            head.append("Transfer-Encoding: chunked\r\n")
        elif not streamed:
            head.append(f"Content-Length: {len(resp.body)}\r\n")  # type: ignore[arg-type]
        if self.close_connection or cut:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        header_bytes = "".join(head).encode("latin-1")
        sent = 0
        try:
            if method == "HEAD" or resp.status in (204, 304):
                self.wfile.write(header_bytes)
                if streamed:
                    _close(resp.body)
                return 0
            if not streamed:
                data: bytes = resp.body  # type: ignore[assignment]
                if cut:
                    data = data[: len(data) // 2]
                self.wfile.write(header_bytes + data)
                sent = len(data)
            else:
                self.wfile.write(header_bytes)
                chunks: Iterator[bytes] = resp.body  # type: ignore[assignment]
                for i, chunk in enumerate(chunks):
                    if not chunk:
                        continue
                    if cut and i >= 1:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    sent += len(chunk)
                else:
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
            if cut:
                self._cut()
        except (ConnectionError, socket.timeout, TimeoutError, OSError):
            self.close_connection = True
        return sent

    def _cut(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """RFC 9110 date, formatted at most once a second (it is on every response)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def _planned_bytes(resp: Response, method: str, cut: bool) -> int:
    if method == "HEAD" or not isinstance(resp.body, (bytes, bytearray)):
        return 0
    return len(resp.body) // 2 if cut else len(resp.body)


def _close(body: object) -> None:
    close = getattr(body, "close", None)
    if close:
        close()


def _corrupted(resp: Response) -> Response:
    if isinstance(resp.body, (bytes, bytearray)):
        return Response(resp.status, corrupt(bytes(resp.body)), resp.headers, resp.content_type)

    def chunks(it: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in it:
            yield corrupt(chunk)

    return Response(resp.status, chunks(resp.body), resp.headers, resp.content_type)
