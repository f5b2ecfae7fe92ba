"""bandersnatch's `hash-index` layout as a view over any storage: `simple/<name>/...` is kept at
`simple/<first character>/<name>/...`.

Why a wrapper: every other layer names pages by their logical key (`simple/<name>/index.html`),
so the layout is decided in one place and works on any backend. Clients still ask for
`/simple/<name>/`; the web server rewrites that to the hashed directory (the role's vhost has the
rule when `pypi_mirror_hash_index` is true).
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

from mirror_tool.storage import keys
from mirror_tool.storage.base import ObjectInfo, Staged, Storage


def hashed_key(key: str) -> str:
    """`simple/<name>/<rest>` -> `simple/<name[0]>/<name>/<rest>`; other keys unchanged."""
    parts = key.split("/", 2)
    if len(parts) == 3 and parts[0] + "/" == keys.SIMPLE and parts[1]:
        return f"{keys.SIMPLE}{parts[1][0]}/{parts[1]}/{parts[2]}"
    return key


def logical_key(key: str) -> str | None:
    """The inverse of `hashed_key` (None: a key the layout cannot hold, e.g. a stray file)."""
    parts = key.split("/", 3)
    if parts[0] + "/" != keys.SIMPLE or len(parts) < 3:
        return key
    if len(parts) == 4 and len(parts[1]) == 1 and parts[2].startswith(parts[1]):
        return f"{keys.SIMPLE}{parts[2]}/{parts[3]}"
    return None if len(parts) == 4 else key


class HashIndexStorage(Storage):
    """`inner` with project pages moved into first-character directories."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def prepare(self) -> None:
        self.inner.prepare()

    def stage(self, key: str, size: int | None) -> Staged:
        return self.inner.stage(hashed_key(key), size)

    def write(self, key: str, data: bytes, content_type: str) -> None:
        self.inner.write(hashed_key(key), data, content_type)

    def read(self, key: str) -> bytes | None:
        return self.inner.read(hashed_key(key))

    def open_read(self, key: str) -> BinaryIO | None:
        return self.inner.open_read(hashed_key(key))

    def stat(self, key: str) -> ObjectInfo | None:
        info = self.inner.stat(hashed_key(key))
        return ObjectInfo(key, info.size, info.sha256) if info is not None else None

    def sha256(self, key: str) -> str | None:
        return self.inner.sha256(hashed_key(key))

    def remove(self, key: str) -> bool:
        return self.inner.remove(hashed_key(key))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        inner_prefix = hashed_key(prefix) if prefix.count("/") >= 2 else prefix
        for info in self.inner.list(inner_prefix):
            key = logical_key(info.key)
            if key is not None and key.startswith(prefix):
                yield ObjectInfo(key, info.size, info.sha256)

    def flush(self) -> None:
        self.inner.flush()


__all__ = ["HashIndexStorage", "hashed_key", "logical_key"]
