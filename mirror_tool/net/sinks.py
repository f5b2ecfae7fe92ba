"""Where a response body goes. The net layer never touches disk: the caller hands it a sink.

Why `restart`: the retry policy lives in the client, so a download that fails half way (cut
connection, 5xx on the next try, failed verification) is sent again into the same sink; the sink
must forget what it got. `HashingSink` adapts a one-shot writer such as storage's `Staged`
(write / commit / discard) by discarding it and opening a fresh one on the next byte.
"""

from __future__ import annotations

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

    def commit(self, sha256: str) -> object: ...

    def discard(self) -> None: ...


class HashingSink:
    """Streams into a writer from `open_writer()` while hashing; `restart` discards it for a fresh one.

    The writer is opened at the first byte (a batch of many files holds no temporaries for the
    files still queued) or by `finish()`. After a successful download the caller calls
    `commit(sha256)` (storage's `Staged.commit`); after a failure `discard()`.
    `verify(expected)` is what `Client.download(..., verify=...)` calls to have a mismatch retried.
    """

    def __init__(self, open_writer: Callable[[], Writer]) -> None:
        import hashlib  # here: a run with nothing to download loads no hashing code

        self._open = open_writer
        self._writer: Writer | None = None
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        if self._writer is None:
            self._writer = self._open()
        self._hash.update(data)
        self._writer.write(memoryview(data))
        self.size += len(data)

    def restart(self) -> None:
        import hashlib

        self.discard()
        self._hash = hashlib.sha256()
        self.size = 0

    def finish(self) -> Writer:
        """The writer holding the whole body (opened now for an empty one), for the caller to commit."""
        if self._writer is None:
            self._writer = self._open()
        return self._writer

    def commit(self, sha256: str) -> None:
        """Commit the writer holding the whole body under `sha256` (the caller verified it) and let
        it go; a later `discard` is then a no-op."""
        writer = self.finish()
        writer.commit(sha256)
        self._writer = None

    def discard(self) -> None:
        """Throw away what was written (a failed or abandoned download)."""
        if self._writer is not None:
            self._writer.discard()
            self._writer = None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def verify(self, expected: str, url: str = "") -> None:
        """Raise IntegrityError unless the bytes hash to `expected` (the client then retries)."""
        from mirror_tool.errors import IntegrityError

        if self.sha256 != expected:
            raise IntegrityError(f"{url}: sha256 {self.sha256} does not match the expected {expected}")


__all__ = ["Sink", "BufferSink", "HashingSink", "Writer"]
