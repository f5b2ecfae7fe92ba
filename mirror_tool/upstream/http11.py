"""A small HTTP/1.1 client for the sync's hot path: keep-alive GETs and one POST.

Why not `http.client`: it parses every response's headers with the `email` package, which was
a quarter of the client's CPU in a full sync (tens of thousands of small responses), and
importing it costs a no-op run more than the run itself. A mirror needs only the status line and
a handful of headers (Content-Length, Transfer-Encoding, Connection, Location,
X-PyPI-Last-Serial), so this reads `Name: value` lines itself. Bodies are fixed-length, chunked,
or delimited by the server closing the connection; all three are supported.

Errors are `OSError`s: `ConnectionClosed` when a kept-alive connection turns out closed before
any response byte (safe to retry on a fresh connection), `ProtocolError` for a malformed answer
or a body cut short.
"""

from __future__ import annotations

import socket

if False:  # typing only: importing `typing` would cost a no-op run ~5 ms
    from typing import BinaryIO

MAX_LINE = 65536
MAX_HEADERS = 200


class ProtocolError(ConnectionError):
    """The server's answer is not valid HTTP/1.x, or its body ended early."""


class ConnectionClosed(ConnectionError):
    """The connection closed before a status line arrived (an idle keep-alive timed out)."""


class Response:
    """Status, lower-cased headers, and the body as a stream (`read`, `readinto`, `read_all`)."""

    __slots__ = ("status", "headers", "will_close", "_fp", "_left", "_chunked", "_chunk_left", "_done", "_conn")

    def __init__(self, conn: "Connection", fp: "BinaryIO", status: int, headers: dict[str, str], head_request: bool) -> None:
        self._conn = conn
        self._fp = fp
        self.status = status
        self.headers = headers
        version_close = headers.get(":version") == "HTTP/1.0" and "keep-alive" not in headers.get("connection", "").lower()
        self.will_close = version_close or "close" in headers.get("connection", "").lower()
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._chunk_left = 0
        self._done = False
        length = headers.get("content-length")
        if head_request or status in (204, 304) or 100 <= status < 200:
            self._left: int | None = 0
        elif self._chunked:
            self._left = None
        elif length is not None:
            try:
                self._left = int(length)
            except ValueError:
                raise ProtocolError(f"bad Content-Length {length!r}") from None
            if self._left < 0:
                raise ProtocolError(f"bad Content-Length {length!r}")
        else:
            self._left = None
            self.will_close = True  # body runs until the server closes
        if self._left == 0:
            self._finish()

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def readinto(self, buf: memoryview) -> int:
        """Fill up to len(buf) bytes of body; 0 at the end of the body."""
        if self._done:
            return 0
        if self._chunked:
            return self._readinto_chunked(buf)
        if self._left is not None:
            want = min(len(buf), self._left)
            n = self._fp.readinto(buf[:want])
            if not n:
                raise ProtocolError(f"body cut short: {self._left} bytes missing")
            self._left -= n
            if self._left == 0:
                self._finish()
            return n
        n = self._fp.readinto(buf)  # until close
        if not n:
            self._finish()
        return n or 0

    def _readinto_chunked(self, buf: memoryview) -> int:
        if self._chunk_left == 0:
            line = self._fp.readline(MAX_LINE)
            if not line:
                raise ProtocolError("body cut short: no chunk header")
            digits = line.split(b";", 1)[0].strip()
            # Plain hex digits only: int() would also take "-5", "+5", "0x5" and "5_0".
            if not digits or digits.strip(b"0123456789abcdefABCDEF"):
                raise ProtocolError(f"bad chunk header {line[:40]!r}")
            size = int(digits, 16)
            if size == 0:
                while True:  # trailers, then the blank line
                    trailer = self._fp.readline(MAX_LINE)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                self._finish()
                return 0
            self._chunk_left = size
        want = min(len(buf), self._chunk_left)
        n = self._fp.readinto(buf[:want])
        if not n:
            raise ProtocolError("body cut short inside a chunk")
        self._chunk_left -= n
        if self._chunk_left == 0:
            self._fp.readline(MAX_LINE)  # CRLF after the chunk data
        return n

    def read(self, amount: int = 1 << 20) -> bytes:
        buf = bytearray(amount)
        n = self.readinto(memoryview(buf))
        del buf[n:]
        return bytes(buf)

    def read_all(self) -> bytes:
        if self._left is not None and not self._chunked:
            if self._done:
                return b""
            data = self._fp.read(self._left)
            if len(data) < self._left:
                raise ProtocolError(f"body cut short: {self._left - len(data)} bytes missing")
            self._left = 0
            self._finish()
            return data
        parts = []
        view = memoryview(bytearray(1 << 16))
        while True:
            n = self.readinto(view)
            if not n:
                break
            parts.append(bytes(view[:n]))
        return b"".join(parts)

    def abandon(self) -> None:
        """The caller stops reading: drop the connection unless the body was read to its end."""
        if not self._done:
            self._conn.close()

    def _finish(self) -> None:
        self._done = True
        if self.will_close:
            self._conn.close()

    @property
    def complete(self) -> bool:
        return self._done


class Connection:
    """One keep-alive connection to `scheme://host:port`; `request()` returns a `Response`.

    The previous response's body must be consumed (or the connection closed) before the next
    request; `request` closes and reopens a connection whose last body was left unread.
    """

    def __init__(self, scheme: str, host: str, port: int | None, timeout: float) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port or (443 if scheme == "https" else 80)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._fp: "BinaryIO | None" = None
        self._last: Response | None = None
        default = 443 if scheme == "https" else 80
        self.host_header = host if self.port == default else f"{host}:{self.port}"
        if ":" in host and not host.startswith("["):  # IPv6 literal
            self.host_header = f"[{host}]" if self.port == default else f"[{host}]:{self.port}"

    @property
    def fresh(self) -> bool:
        """True when the next request opens a new socket (nothing to retry on)."""
        return self._sock is None

    def _connect(self) -> None:
        # An ASCII host as bytes skips the idna codec import (~1 ms of a no-op run).
        host: str | bytes = self.host.encode("ascii") if self.host.isascii() else self.host
        sock = socket.create_connection((host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.scheme == "https":
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self._sock = sock
        self._fp = sock.makefile("rb", buffering=1 << 16)

    def close(self) -> None:
        if self._fp is not None:
            self._fp.close()
            self._fp = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._last = None

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes | None = None) -> Response:
        if self._last is not None and not self._last.complete:
            self.close()
        if self._sock is None:
            self._connect()
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        assert self._sock is not None
        try:
            self._sock.sendall(head + body if body else head)
            resp = self._read_response(method == "HEAD")
        except BaseException:
            self.close()
            raise
        self._last = resp
        return resp

    def _read_response(self, head_request: bool) -> Response:
        fp = self._fp
        while True:
            line = fp.readline(MAX_LINE + 1)
            if not line:
                raise ConnectionClosed("connection closed before the response")
            if len(line) > MAX_LINE:
                raise ProtocolError("status line too long")
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
                raise ProtocolError(f"not an HTTP/1.x status line: {line[:60]!r}")
            try:
                status = int(parts[1])
            except ValueError:
                raise ProtocolError(f"bad status code in {line[:60]!r}") from None
            headers = self._read_headers(fp)
            headers[":version"] = parts[0].decode("ascii", "replace")
            if 100 <= status < 200 and status != 101:
                continue  # 100 Continue and friends: the real answer follows
            return Response(self, fp, status, headers, head_request)

    @staticmethod
    def _read_headers(fp: "BinaryIO") -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = fp.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                raise ProtocolError("header line too long")
            if line in (b"\r\n", b"\n"):
                return headers
            if not line:
                raise ProtocolError("connection closed inside the headers")
            name, sep, value = line.partition(b":")
            if not sep:
                continue  # obsolete line folding or junk: ignored, like most clients
            key = name.strip().lower().decode("latin-1")
            text = value.strip().decode("latin-1")
            if key in headers and key not in ("location", "content-length"):
                headers[key] = f"{headers[key]}, {text}"
            else:
                headers[key] = text
        raise ProtocolError(f"more than {MAX_HEADERS} header lines")


__all__ = ["Connection", "Response", "ProtocolError", "ConnectionClosed"]
