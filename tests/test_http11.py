"""mirror_tool/http11.py against a scripted raw-socket server on 127.0.0.1 (hand-written bytes)."""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path
from typing import Callable

import pytest

from mirror_tool.upstream import http11
from mirror_tool.errors import ProjectError
from mirror_tool.stop import StopToken
from mirror_tool.storage.filesystem import FilesystemStorage
from mirror_tool.upstream.client import Upstream
from tests.support.mirror_env import make_config



class Request:
    """One request as the server read it off the wire."""

    def __init__(self, conn_index: int, head: bytes, body: bytes) -> None:
        self.conn_index = conn_index
        self.raw_head = head
        lines = head.decode("latin-1").split("\r\n")
        self.request_line = lines[0]
        self.method, self.target, self.version = self.request_line.split(" ", 2)
        self.header_lines = [line for line in lines[1:] if line]
        self.headers: dict[str, list[str]] = {}
        for line in self.header_lines:
            name, _, value = line.partition(":")
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())
        self.body = body


class ScriptedServer:
    """Accepts connections on 127.0.0.1; for each request calls `script(conn_index, req_index, request)`.

    The script returns the raw response bytes, or `(bytes, close)`: close the connection after
    sending. `None` closes the connection without answering. Each connection has its own thread.
    """

    def __init__(self, script: Callable[[int, int, Request], "bytes | tuple[bytes, bool] | None"]) -> None:
        self.script = script
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.requests: list[Request] = []
        self.connections = 0
        self.closed = threading.Event()  # set whenever the server closed a connection itself
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._stopping = False
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
                self._socks.append(sock)
            t = threading.Thread(target=self._serve, args=(sock, index), daemon=True)
            self._threads.append(t)
            t.start()

    def _read_request(self, sock: socket.socket, buf: bytearray) -> tuple[bytes, bytes] | None:
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return None
            buf += data
        end = buf.index(b"\r\n\r\n")
        head = bytes(buf[:end])
        del buf[: end + 4]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(buf) < length:
            data = sock.recv(65536)
            if not data:
                break
            buf += data
        body = bytes(buf[:length])
        del buf[:length]
        return head, body

    def _serve(self, sock: socket.socket, conn_index: int) -> None:
        buf = bytearray()
        req_index = 0
        try:
            while True:
                got = self._read_request(sock, buf)
                if got is None:
                    return
                req = Request(conn_index, *got)
                with self._lock:
                    self.requests.append(req)
                reply = self.script(conn_index, req_index, req)
                req_index += 1
                if reply is None:
                    return
                close = False
                if isinstance(reply, tuple):
                    reply, close = reply
                sock.sendall(reply)
                if close:
                    return
        except OSError:
            return
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            self.closed.set()

    def stop(self) -> None:
        self._stopping = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)
        self._acceptor.join(timeout=5)


@pytest.fixture
def serve():
    servers: list[ScriptedServer] = []

    def make(script):  # type: ignore[no-untyped-def]
        srv = ScriptedServer(script)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


def always(reply: "bytes | tuple[bytes, bool] | None"):  # type: ignore[no-untyped-def]
    return lambda c, r, req: reply


def sequence(*replies):  # type: ignore[no-untyped-def]
    """Replies by request index on each connection (same list for every connection)."""
    return lambda c, r, req: replies[r] if r < len(replies) else None


def conn_to(srv: ScriptedServer, timeout: float = 5) -> http11.Connection:
    return http11.Connection("http", "127.0.0.1", srv.port, timeout)


OK_HELLO = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"


# -- bodies --------------------------------------------------------------------------------------


def test_fixed_content_length_body(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(OK_HELLO))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/a", {})
        assert resp.status == 200
        assert resp.headers["content-length"] == "5"
        assert not resp.complete
        assert resp.read_all() == b"hello"
        assert resp.complete
        assert not resp.will_close
        assert resp.read_all() == b""  # nothing more
        assert resp.read() == b""
    finally:
        conn.close()
    assert srv.requests[0].request_line == "GET /a HTTP/1.1"


def test_fixed_length_body_read_in_small_pieces(serve) -> None:  # type: ignore[no-untyped-def]
    body = bytes(range(256)) * 40
    srv = serve(always(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/big", {})
        got = bytearray()
        buf = memoryview(bytearray(777))
        while True:
            n = resp.readinto(buf)
            if not n:
                break
            assert n <= 777
            got += buf[:n]
        assert bytes(got) == body
        assert resp.complete
    finally:
        conn.close()


def test_chunked_body_with_extension_and_trailer_then_next_response(serve) -> None:  # type: ignore[no-untyped-def]
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"7\r\n, world\r\n"
        b"A; ext\r\n0123456789\r\n"
        b"0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n"
    )
    srv = serve(sequence(chunked, OK_HELLO))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/chunked", {})
        assert resp.status == 200
        assert resp.read_all() == b"hello, world0123456789"
        assert resp.complete and not resp.will_close
        # the trailer and the final blank line were consumed: the next answer parses cleanly
        resp2 = conn.request("GET", "/next", {})
        assert resp2.status == 200 and resp2.read_all() == b"hello"
    finally:
        conn.close()
    assert srv.connections == 1


def test_chunked_body_read_with_small_buffer(serve) -> None:  # type: ignore[no-untyped-def]
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabcdefghijklmnop\r\n3\r\nxyz\r\n0\r\n\r\n"
    srv = serve(always(chunked))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/c", {})
        pieces = []
        while True:
            piece = resp.read(4)
            if not piece:
                break
            assert len(piece) <= 4
            pieces.append(piece)
        assert b"".join(pieces) == b"abcdefghijklmnopxyz"
        assert resp.complete
    finally:
        conn.close()


def test_body_delimited_by_server_close(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always((b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", True)))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/x", {})
        assert resp.status == 200
        assert resp.will_close  # no length: the body runs until the server closes
        assert resp.read_all() == b"until the end"
        assert resp.complete
        assert conn.fresh  # closed after such a body
    finally:
        conn.close()


def test_http10_without_keep_alive_will_close(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always((b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", True)))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/x", {})
        assert resp.will_close
        assert resp.read_all() == b"ok"
        assert conn.fresh
    finally:
        conn.close()


def test_body_cut_short_raises_protocol_error_read_all(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always((b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", True)))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/cut", {})
        assert resp.status == 200
        with pytest.raises(http11.ProtocolError) as info:
            resp.read_all()
        assert isinstance(info.value, ConnectionError) and isinstance(info.value, OSError)
        assert "90" in str(info.value)  # says how much is missing
        assert not resp.complete
    finally:
        conn.close()


def test_body_cut_short_raises_protocol_error_readinto(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always((b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", True)))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/cut", {})
        buf = memoryview(bytearray(1000))
        got = b""
        with pytest.raises(http11.ProtocolError):
            while True:
                n = resp.readinto(buf)
                assert n, "readinto returned 0 before the promised length"
                got += bytes(buf[:n])
        assert got == b"only ten b"
    finally:
        conn.close()


@pytest.mark.parametrize(
    "chunked_body",
    [
        pytest.param(b"20\r\nshort", id="cut-inside-a-chunk"),
        pytest.param(b"zz\r\nabc\r\n0\r\n\r\n", id="chunk-size-not-hex"),
        pytest.param(b"-5\r\nhello\r\n0\r\n\r\n", id="negative-chunk-size"),
    ],
)
def test_malformed_chunked_body_raises_protocol_error(serve, chunked_body: bytes) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_body, True)))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/bad", {})
        with pytest.raises(http11.ProtocolError):
            resp.read_all()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\nabc", id="content-length-not-a-number"),
        pytest.param(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 OK fine\r\nContent-Length: 0\r\n\r\n", id="status-not-a-number"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Len", id="closed-inside-headers"),
    ],
)
def test_malformed_response_head_raises_protocol_error(serve, answer: bytes) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always((answer, True)))
    conn = conn_to(srv)
    try:
        with pytest.raises(http11.ProtocolError):
            conn.request("GET", "/", {})
        assert conn.fresh  # the connection was dropped
    finally:
        conn.close()


# -- status lines and headers --------------------------------------------------------------------


def test_100_continue_before_the_real_answer(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX-Info: 1\r\n\r\n"
                       b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\nX-Real: yes\r\n\r\ndone"))
    conn = conn_to(srv)
    try:
        resp = conn.request("POST", "/up", {}, b"data")
        assert resp.status == 201
        assert resp.getheader("X-Real") == "yes"
        assert resp.read_all() == b"done"
    finally:
        conn.close()


def test_header_names_case_insensitive_and_repeated(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(
        b"HTTP/1.1 200 OK\r\n"
        b"CONTENT-LENGTH: 2\r\n"
        b"X-PyPI-Last-Serial:   42  \r\n"
        b"Set-Thing: a\r\n"
        b"set-thing: b\r\n"
        b"SET-THING: c\r\n"
        b"\r\nok"
    ))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/h", {})
        assert set(k for k in resp.headers if not k.startswith(":")) == {"content-length", "x-pypi-last-serial", "set-thing"}
        assert resp.headers["x-pypi-last-serial"] == "42"
        assert resp.getheader("x-pypi-last-serial") == "42"
        assert resp.getheader("X-PYPI-LAST-SERIAL") == "42"
        assert resp.getheader("Set-Thing") == "a, b, c"
        assert resp.getheader("Missing") is None
        assert resp.getheader("Missing", "dflt") == "dflt"
        assert resp.read_all() == b"ok"
    finally:
        conn.close()


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_then_next_response_on_same_connection(serve, status: int) -> None:  # type: ignore[no-untyped-def]
    # a (wrong) Content-Length on a 204/304 must not make the client wait for a body
    first = b"HTTP/1.1 %d Whatever\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n" % status
    srv = serve(sequence(first, OK_HELLO))
    conn = conn_to(srv)
    try:
        resp = conn.request("GET", "/n", {})
        assert resp.status == status
        assert resp.complete
        assert resp.read_all() == b""
        resp2 = conn.request("GET", "/after", {})
        assert resp2.status == 200 and resp2.read_all() == b"hello"
    finally:
        conn.close()
    assert srv.connections == 1


def test_head_has_no_body(serve) -> None:  # type: ignore[no-untyped-def]
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n"
    srv = serve(sequence(head, OK_HELLO))
    conn = conn_to(srv)
    try:
        resp = conn.request("HEAD", "/file", {})
        assert resp.status == 200 and resp.getheader("content-length") == "12345"
        assert resp.complete
        assert resp.read(100) == b""
        resp2 = conn.request("GET", "/file", {})
        assert resp2.read_all() == b"hello"
    finally:
        conn.close()
    assert [r.method for r in srv.requests] == ["HEAD", "GET"]
    assert srv.connections == 1


# -- connection reuse ----------------------------------------------------------------------------


def test_two_requests_reuse_one_keep_alive_connection(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(OK_HELLO))
    conn = conn_to(srv)
    try:
        assert conn.fresh
        r1 = conn.request("GET", "/one", {})
        assert r1.read_all() == b"hello"
        assert not conn.fresh
        r2 = conn.request("GET", "/two", {})
        assert r2.read_all() == b"hello"
    finally:
        conn.close()
    assert srv.connections == 1
    assert [r.target for r in srv.requests] == ["/one", "/two"]
    assert {r.conn_index for r in srv.requests} == {0}


def test_unread_body_makes_next_request_reopen(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(OK_HELLO))
    conn = conn_to(srv)
    try:
        conn.request("GET", "/one", {})  # body left unread
        r2 = conn.request("GET", "/two", {})
        assert r2.read_all() == b"hello"
    finally:
        conn.close()
    assert srv.connections == 2


def test_server_closed_idle_keep_alive_raises_connection_closed(serve) -> None:  # type: ignore[no-untyped-def]
    # first connection: one answer, then the server closes it while the client holds it idle
    def script(c: int, r: int, req: Request):  # type: ignore[no-untyped-def]
        if c == 0:
            return (OK_HELLO, True)
        return OK_HELLO

    srv = serve(script)
    conn = conn_to(srv)
    try:
        r1 = conn.request("GET", "/one", {})
        assert r1.read_all() == b"hello"
        assert not r1.will_close  # the server did not announce it
        assert not conn.fresh
        assert srv.closed.wait(5)
        with pytest.raises(http11.ConnectionClosed) as info:
            conn.request("GET", "/two", {})
        assert isinstance(info.value, ConnectionError)
        assert conn.fresh  # the dead socket was dropped: a retry opens a new one
        r3 = conn.request("GET", "/three", {})
        assert r3.status == 200 and r3.read_all() == b"hello"
        assert not conn.fresh
    finally:
        conn.close()
    assert srv.connections == 2
    assert [(r.conn_index, r.target) for r in srv.requests] == [(0, "/one"), (1, "/three")]


def test_fresh_connection_refused_is_an_oserror() -> None:
    # a port nobody listens on (bound then closed)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conn = http11.Connection("http", "127.0.0.1", port, 2)
    with pytest.raises(ConnectionRefusedError):
        conn.request("GET", "/", {})
    assert conn.fresh


def test_connection_close_header_then_reopen(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always((b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", True)))
    conn = conn_to(srv)
    try:
        r1 = conn.request("GET", "/one", {})
        assert r1.will_close
        assert r1.read_all() == b"hello"
        assert conn.fresh  # closed once the body was read
        r2 = conn.request("GET", "/two", {})
        assert r2.will_close and r2.read_all() == b"hello"
    finally:
        conn.close()
    assert srv.connections == 2


def test_connection_keep_alive_http10(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 5\r\n\r\nhello"))
    conn = conn_to(srv)
    try:
        r1 = conn.request("GET", "/one", {})
        assert not r1.will_close
        assert r1.read_all() == b"hello"
        assert conn.request("GET", "/two", {}).read_all() == b"hello"
    finally:
        conn.close()
    assert srv.connections == 1


# -- what is sent --------------------------------------------------------------------------------


def test_post_body_and_content_length_sent_as_given(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(OK_HELLO))
    body = b"<?xml version='1.0'?>\n<methodCall>\xe9\x00binary</methodCall>\n"
    conn = conn_to(srv)
    try:
        resp = conn.request("POST", "/pypi", {"Content-Type": "text/xml", "User-Agent": "t/1"}, body)
        assert resp.read_all() == b"hello"
    finally:
        conn.close()
    req = srv.requests[0]
    assert req.request_line == "POST /pypi HTTP/1.1"
    assert req.body == body
    assert req.headers["content-length"] == [str(len(body))]
    assert req.headers["content-type"] == ["text/xml"]
    assert req.headers["user-agent"] == ["t/1"]


def test_get_sends_no_content_length(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(OK_HELLO))
    conn = conn_to(srv)
    try:
        conn.request("GET", "/p?q=1", {"Accept": "*/*"}).read_all()
    finally:
        conn.close()
    req = srv.requests[0]
    assert req.target == "/p?q=1"
    assert "content-length" not in req.headers
    assert req.headers["accept"] == ["*/*"]


def test_host_header_includes_non_default_port(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(OK_HELLO))
    conn = conn_to(srv)
    try:
        conn.request("GET", "/", {}).read_all()
    finally:
        conn.close()
    assert srv.requests[0].headers["host"] == [f"127.0.0.1:{srv.port}"]
    assert srv.requests[0].header_lines[0] == f"Host: 127.0.0.1:{srv.port}"


def test_host_header_forms_without_connecting() -> None:
    assert http11.Connection("http", "mirror.test", None, 1).host_header == "mirror.test"
    assert http11.Connection("http", "mirror.test", 80, 1).host_header == "mirror.test"
    assert http11.Connection("https", "mirror.test", 443, 1).host_header == "mirror.test"
    assert http11.Connection("https", "mirror.test", None, 1).port == 443
    assert http11.Connection("http", "mirror.test", 443, 1).host_header == "mirror.test:443"
    assert http11.Connection("https", "mirror.test", 8443, 1).host_header == "mirror.test:8443"
    assert http11.Connection("http", "::1", 8080, 1).host_header == "[::1]:8080"
    assert http11.Connection("http", "::1", None, 1).host_header == "[::1]"


# -- as the mirror uses it -----------------------------------------------------------------------

PAYLOAD = hashlib.sha256(b"seed").digest() * 2000  # 64000 bytes


def _chunked(data: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x;x=y\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\nX-Checksum: none\r\n\r\n"


def _upstream(tmp_path: Path, master: str) -> tuple[Upstream, FilesystemStorage, Path]:
    """The client and a storage for `tmp_path/web`, staging named temporaries in `tmp_path/tmp`."""
    cfg = make_config(tmp_path, master)
    storage = FilesystemStorage(tmp_path / "web", tmp_path / "tmp")
    storage.prepare()
    return Upstream.for_mirror(cfg.mirror, StopToken()), storage, tmp_path / "tmp"


def _into(storage: FilesystemStorage, dest: Path, size: int | None):  # type: ignore[no-untyped-def]
    """What a download streams into: a fresh staged object for `dest` per attempt."""
    key = str(dest.relative_to(storage.web))
    return lambda: storage.stage(key, size)


def test_upstream_download_chunked_stores_verified_file(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n" + _chunked(PAYLOAD, 5000)
    srv = serve(always(reply))
    upstream, storage, tmp_dir = _upstream(tmp_path, srv.url)
    dest = tmp_path / "web" / "packages" / "ab" / "cd" / "ef" / "pkg-1.0-py3-none-any.whl"
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    try:
        n = upstream.download(f"{srv.url}/packages/ab/cd/ef/pkg-1.0-py3-none-any.whl", _into(storage, dest, len(PAYLOAD)), sha, len(PAYLOAD))
        # a second file on the same kept-alive connection
        dest2 = dest.with_name("pkg-1.1-py3-none-any.whl")
        upstream.download(f"{srv.url}/packages/ab/cd/ef/pkg-1.1-py3-none-any.whl", _into(storage, dest2, None), sha, None)
    finally:
        upstream.close()
    assert n == len(PAYLOAD)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == sha
    assert dest2.read_bytes() == PAYLOAD
    assert list(tmp_dir.iterdir()) == []
    assert srv.connections == 1
    assert [r.target for r in srv.requests] == ["/packages/ab/cd/ef/pkg-1.0-py3-none-any.whl",
                                                "/packages/ab/cd/ef/pkg-1.1-py3-none-any.whl"]
    assert upstream.stats.files == 2 and upstream.stats.bytes == 2 * len(PAYLOAD)


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_upstream_download_cut_body_leaves_nothing(tmp_path: Path, serve, framing: str) -> None:  # type: ignore[no-untyped-def]
    half = PAYLOAD[: len(PAYLOAD) // 2]
    if framing == "length":
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PAYLOAD) + half
    else:
        reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(half, 4000)[: -len(b"0\r\nX-Checksum: none\r\n\r\n")]
    srv = serve(always((reply, True)))
    upstream, storage, tmp_dir = _upstream(tmp_path, srv.url)
    dest = tmp_path / "web" / "packages" / "pkg-1.0.tar.gz"
    try:
        with pytest.raises(ProjectError):
            upstream.download(f"{srv.url}/packages/pkg-1.0.tar.gz", _into(storage, dest, len(PAYLOAD)), hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    finally:
        upstream.close()
    assert not dest.exists()
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
    assert list(tmp_dir.iterdir()) == []
    assert len(srv.requests) == upstream.retries + 1  # every attempt was made, each cut
    assert upstream.stats.files == 0


def test_upstream_download_wrong_hash_leaves_nothing(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve(always(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PAYLOAD) + PAYLOAD))
    upstream, storage, tmp_dir = _upstream(tmp_path, srv.url)
    dest = tmp_path / "web" / "pkg.whl"
    try:
        with pytest.raises(Exception) as info:
            upstream.download(f"{srv.url}/pkg.whl", _into(storage, dest, len(PAYLOAD)), "0" * 64, len(PAYLOAD))
        assert "sha256" in str(info.value)
    finally:
        upstream.close()
    assert not dest.exists()
    assert list(tmp_dir.iterdir()) == []
