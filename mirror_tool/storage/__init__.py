"""Where the mirror tree's bytes live: the `Storage` interface (base.py) and its backends.

Nothing outside this package opens, replaces, lists or unlinks anything below `web/`; every other
layer names objects by key (`simple/foo/index.html`, `packages/aa/bb/<rest>/f.whl`; keys.py). An
object-store backend is one more class implementing `Storage`, chosen in `open_storage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mirror_tool.config import MirrorSettings
    from mirror_tool.storage.base import Storage


def open_storage(settings: "MirrorSettings") -> "Storage":
    """The backend `[mirror] storage-backend` names (only `filesystem` today): `<directory>/web`,
    staging in `<directory>/tmp`; with `hash-index`, project pages under `simple/<c>/<name>/`."""
    from mirror_tool.storage.filesystem import FilesystemStorage

    storage: Storage = FilesystemStorage(settings.directory / "web", settings.directory / "tmp",
                                         manage_permissions=settings.storage_filesystem_manage_permissions)
    return hashed(storage, settings)


def hashed(storage: "Storage", settings: "MirrorSettings") -> "Storage":
    """`storage` with bandersnatch's `hash-index` layout when the settings ask for it."""
    if not settings.hash_index:
        return storage
    from mirror_tool.storage.hash_index import HashIndexStorage

    return HashIndexStorage(storage)
