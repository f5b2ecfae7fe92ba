"""Moving bytes to and from an object store: the staged upload and the ranged reader.

Staging: a download is verified only once its last byte arrived, and an object's metadata (the
sha256) can only be given when the upload starts, so a release file is held locally until
`commit` and then uploaded in one request. Small files (almost every file on PyPI) stay in
memory; a file larger than `SPOOL_BYTES` spills into an unnamed temporary file in the mirror's
`tmp/` (O_TMPFILE: a killed run leaves nothing behind). Measured on the Swift all-in-one (2.30,
s3api, one node): one PUT of 8 MiB took 131 ms where a multipart upload took 356 ms, and at 256
MiB one PUT (2.2 s) still matched 4 parallel 64 MiB parts (2.2 s); writing 256 MiB to a temporary
file cost another 1.0 s, hence memory up to 32 MiB. Multipart is used above `MULTIPART_BYTES`
(single PUTs are limited to 5 GiB; parts can be retried one by one).

Reading: a wheel's METADATA is read with zipfile, which seeks to the end of the archive and back.
`RangedReader` serves those reads with ranged GETs (a few per wheel); the wheel a thread just
committed from memory is served from that memory instead (`recent`).
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mirror_tool.storage.base import Staged

#: Larger downloads are staged in a temporary file instead of memory.
SPOOL_BYTES = 32 << 20
#: Larger objects are uploaded in parts (of `PART_BYTES`, `PART_THREADS` at once).
MULTIPART_BYTES = 256 << 20
PART_BYTES = 64 << 20
PART_THREADS = 4
#: Objects up to this size are read in one GET by `open_read`.
WHOLE_READ_BYTES = 1 << 20
RANGE_BLOCK = 64 << 10


class Recent(threading.local):
    """The last wheel this thread committed from memory: (full key, bytes); read once, then dropped."""

    key: str = ""
    data: bytes = b""


class S3Staged(Staged):
    """Bytes of one object until `commit(sha256)` uploads them with their hash as metadata."""

    def __init__(self, upload: Callable[[Any, int, str], None], tmp: Path, recent: Recent, full_key: str) -> None:
        self._upload = upload  # (bytes or seekable file, size, sha256) -> None
        self._tmp = tmp
        self._recent = recent
        self._key = full_key
        self._buffer: bytearray | None = bytearray()
        self._file: Any = None
        self._size = 0

    def write(self, data: bytes | memoryview) -> None:
        if self._file is None and self._buffer is not None and self._size + len(data) <= SPOOL_BYTES:
            self._buffer += data  # copies: the caller reuses its buffer
        else:
            if self._file is None:
                self._spill()
            self._file.write(data)
        self._size += len(data)

    def _spill(self) -> None:
        from mirror_tool.storage.atomic import os_error

        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            self._file = tempfile.TemporaryFile(dir=self._tmp)  # O_TMPFILE where supported
        except OSError as exc:
            raise os_error(exc, str(self._tmp), whole_run=True) from exc
        if self._buffer:
            self._file.write(self._buffer)
        self._buffer = None

    def commit(self, sha256: str) -> None:
        try:
            if self._file is not None:
                self._file.seek(0)
                self._upload(self._file, self._size, sha256)
            else:
                data = bytes(self._buffer or b"")
                self._recent.key, self._recent.data = "", b""
                self._upload(data, self._size, sha256)
                if self._key.endswith(".whl"):  # its METADATA is read next (engine/sync.py)
                    self._recent.key, self._recent.data = self._key, data
        finally:
            self.discard()

    def discard(self) -> None:
        self._buffer = None
        if self._file is not None:
            self._file.close()
            self._file = None


class RangedReader(io.RawIOBase):
    """A seekable, read-only view of an object of `size` bytes; `fetch(start, end)` returns the
    bytes start..end (inclusive) with one ranged GET. Reads are served from one cached block."""

    def __init__(self, fetch: Callable[[int, int], bytes], size: int) -> None:
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._pos = 0
        self._block_start = 0
        self._block = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._pos)
        if want <= 0:
            return 0
        inside = self._block_start <= self._pos and self._pos + want <= self._block_start + len(self._block)
        if not inside:
            end = min(self._size, self._pos + max(want, RANGE_BLOCK)) - 1
            self._block = self._fetch(self._pos, end)
            self._block_start = self._pos
            want = min(want, len(self._block))
        offset = self._pos - self._block_start
        view[:want] = self._block[offset:offset + want]
        self._pos += want
        return want


__all__ = ["MULTIPART_BYTES", "PART_BYTES", "PART_THREADS", "RangedReader", "Recent", "S3Staged", "SPOOL_BYTES",
           "WHOLE_READ_BYTES"]
