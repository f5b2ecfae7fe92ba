"""gzip for JSON and XML responses, for clients that send ``Accept-Encoding: gzip``.

Why: the upstream's CDN compresses JSON documents and XML-RPC answers, which makes the
700,000-project index about a seventh of its size on the wire; a client that does not ask for
gzip pays the full size. HTML pages and release files are served as they are.

Compressed bodies are cached: byte bodies by their content (``bytes`` caches its own hash, and the
origin hands out the same object for a cached page), streamed bodies (the big index) by the
response's identity (path, content type, serial), filled in once a stream has been sent whole.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from typing import Iterator

from .response import Response

LEVEL = 6
CACHE_BYTES = 256 * 1024 * 1024
COMPRESSIBLE = ("application/json", "application/vnd.pypi.simple.v1+json", "text/xml", "application/xml")


def accepts_gzip(header: str | None) -> bool:
    """True when ``Accept-Encoding`` admits gzip (by name or ``*``) with a q-value above 0."""
    if not header:
        return False
    named: float | None = None
    star: float | None = None
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        coding = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            named = q
        elif coding == "*":
            star = q
    if named is not None:
        return named > 0
    return star is not None and star > 0


def compressible(resp: Response) -> bool:
    ctype = resp.content_type.split(";")[0].strip().lower()
    return ctype in COMPRESSIBLE and resp.header("Content-Encoding") is None and resp.status != 206


class GzipCache:
    """Compressed bodies, least recently used dropped first, at most ``CACHE_BYTES`` in all."""

    def __init__(self) -> None:
        self._entries: OrderedDict[object, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: object) -> bytes | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: object, data: bytes) -> None:
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = data
            self._size += _cost(key, data)
            while self._size > CACHE_BYTES and self._entries:
                old_key, old = self._entries.popitem(last=False)
                self._size -= _cost(old_key, old)


def encode(resp: Response, path: str, cache: GzipCache) -> Response:
    """``resp`` with its body gzipped and the headers that say so (call only when accepted)."""
    headers = [(k, v) for k, v in resp.headers if k.lower() != "vary"]
    vary = [v for k, v in resp.headers if k.lower() == "vary"]
    headers += [("Vary", ", ".join(vary + ["Accept-Encoding"])), ("Content-Encoding", "gzip")]
    if isinstance(resp.body, (bytes, bytearray)):
        key = bytes(resp.body)
        data = cache.get(key)
        if data is None:
            data = _gzip(key)
            cache.put(key, data)
        return Response(resp.status, data, headers, resp.content_type)
    stream_key = ("stream", path, resp.content_type, resp.header("X-PyPI-Last-Serial"))
    data = cache.get(stream_key) if stream_key[3] is not None else None
    if data is not None:
        _close(resp.body)
        return Response(resp.status, data, headers, resp.content_type)
    keep = cache if stream_key[3] is not None else None
    return Response(resp.status, _gzip_stream(resp.body, stream_key, keep), headers, resp.content_type)


def _cost(key: object, data: bytes) -> int:
    """Memory an entry holds: the compressed body, and the plain body when that is the key."""
    return len(data) + (len(key) if isinstance(key, bytes) else 0)


def _gzip(data: bytes) -> bytes:
    comp = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    return comp.compress(data) + comp.flush()


def _gzip_stream(chunks: Iterator[bytes], key: object, cache: GzipCache | None) -> Iterator[bytes]:
    comp = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    sent: list[bytes] = []
    try:
        for chunk in chunks:
            out = comp.compress(chunk)
            if out:
                sent.append(out)
                yield out
        tail = comp.flush()
        sent.append(tail)
        yield tail
    finally:
        _close(chunks)
    if cache is not None:
        cache.put(key, b"".join(sent))


def _close(body: object) -> None:
    close = getattr(body, "close", None)
    if close:
        close()
