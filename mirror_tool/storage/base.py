"""The storage interface every backend implements, and the record `stat` and `list` return.

Why an interface: the sync engine, the publisher and maintenance only need a handful of
operations on named objects (stage a download and commit it once verified, replace a page, read,
stat, hash, remove, list by prefix, make everything durable). A filesystem does them with
O_TMPFILE, `os.replace` and `syncfs`; an object store with uploads, object metadata and nothing
(its writes are durable when they return). Keys are `/`-separated paths relative to `web/`.

Errors: a backend raises `StorageError` (exit 7) when the store as a whole cannot take a write
(disk full, permission denied, read-only, I/O error), and `ProjectError` when one object is
refused (e.g. a name the filesystem does not accept): that fails the project, not the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import BinaryIO, Iterator


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored object: its key, size, and its sha256 when the backend keeps it as metadata."""

    key: str
    size: int
    sha256: str | None = None


class Staged(ABC):
    """An object being written; invisible under its key until `commit`."""

    @abstractmethod
    def write(self, data: bytes | memoryview) -> None:
        """Append `data` (all of it)."""

    @abstractmethod
    def commit(self, sha256: str) -> None:
        """Publish the written bytes under the key (replacing an older object); `sha256` is the
        verified digest, which a backend may store as metadata."""

    @abstractmethod
    def discard(self) -> None:
        """Drop the written bytes; nothing becomes visible. Safe to call after `commit`."""


class Storage(ABC):
    """The objects below `web/`, by key.

    `write_concurrency`: how many writes the publisher may have in flight at once. A filesystem
    writes at memory speed (1: no threads); an object store answers each request after a round
    trip, so pages of several projects are written side by side (the publisher still waits for
    all of them before the root index that lists them).
    """

    write_concurrency: int = 1

    @abstractmethod
    def prepare(self) -> None:
        """Create what a run needs and clear stray temporaries of an interrupted run."""

    @abstractmethod
    def stage(self, key: str, size: int | None) -> Staged:
        """A writer for `key` (`size` when known in advance)."""

    @abstractmethod
    def write(self, key: str, data: bytes, content_type: str) -> None:
        """Replace `key` with `data` atomically: readers see the old or the new object."""

    @abstractmethod
    def read(self, key: str) -> bytes | None:
        """The object's bytes; None when it does not exist."""

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO | None:
        """A seekable reader of the object (the caller closes it); None when absent or when the
        backend cannot offer one."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size (and sha256 when stored) of `key`; None when it does not exist."""

    @abstractmethod
    def sha256(self, key: str) -> str | None:
        """The sha256 of the object's bytes, computed by reading them; None when absent."""

    @abstractmethod
    def remove(self, key: str) -> bool:
        """Delete `key`; False when it did not exist."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix` (a `/`-terminated prefix: below it)."""

    @abstractmethod
    def flush(self) -> None:
        """Return once every write and removal made before the call is durable."""


__all__ = ["ObjectInfo", "Staged", "Storage"]
