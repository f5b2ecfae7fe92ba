"""Where a response body goes. The net layer never touches disk: the caller hands it a sink.

Why `restart`: the retry policy lives in the client, so a download that fails half way (cut
connection, 5xx on the next try, failed verification) is sent again into the same sink; the sink
must forget what it got. `HashingSink` adapts a one-shot writer such as storage's `Staged`
(write / commit / discard) by discarding it and opening a fresh one.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Protocol


class Sink(Protocol):
    """`write` each piece as it arrives; `restart` before a retry sends the body again."""

    def write(self, data: bytes) -> object: ...

    def restart(self) -> None: ...


class BufferSink:
    """A body kept in memory (documents)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def restart(self) -> None:
        self.parts.clear()

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


class Writer(Protocol):
    """What storage's `Staged` offers (only the parts a download needs)."""

    def write(self, data: memoryview) -> object: ...

    def discard(self) -> None: ...


class HashingSink:
    """Streams into `open_writer()`'s writer while hashing; `restart` discards it and opens another.

    After a successful download the caller commits `sink.writer` (e.g. `Staged.commit(sha256)`);
    `verify(expected)` is what `Client.download(..., verify=...)` calls to have a mismatch retried.
    """

    def __init__(self, open_writer: Callable[[], Writer]) -> None:
        self._open = open_writer
        self.writer = open_writer()
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self.writer.write(memoryview(data))
        self.size += len(data)

    def restart(self) -> None:
        self.writer.discard()
        self.writer = self._open()
        self._hash = hashlib.sha256()
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def verify(self, expected: str, url: str = "") -> None:
        """Raise IntegrityError unless the bytes hash to `expected` (the client then retries)."""
        from mirror_tool.errors import IntegrityError

        if self.sha256 != expected:
            raise IntegrityError(f"{url}: sha256 {self.sha256} does not match the expected {expected}")


__all__ = ["Sink", "BufferSink", "HashingSink", "Writer"]
