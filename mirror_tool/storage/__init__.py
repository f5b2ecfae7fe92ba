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
    """The backend `[mirror] storage-backend` names: `filesystem` (`<directory>/web`, staging in
    `<directory>/tmp`) or `s3` (the `[object-store]` bucket; its credentials are read and checked
    here, so a refused secret stops a command before it starts: CredentialsError, exit 9)."""
    if settings.storage_backend == "s3":
        from mirror_tool.storage.s3 import S3Storage

        return S3Storage.open(settings)
    from mirror_tool.storage.filesystem import FilesystemStorage

    return FilesystemStorage(settings.directory / "web", settings.directory / "tmp")
