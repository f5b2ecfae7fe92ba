"""A wheel's core metadata, read from the wheel the mirror just stored (PEP 658 `.metadata`).

Why: PEP 658 makes `<wheel>.metadata` byte-identical to the wheel's `*.dist-info/METADATA`, and
the project JSON gives its sha256. Reading it out of the local wheel saves one request per wheel
(over a third of a full sync's requests, each a round trip the upstream must serve). The caller
only uses the bytes when their sha256 is the one upstream promised; otherwise it downloads the
`.metadata` file as before, so a wheel whose METADATA differs (or is unreadable) costs nothing
but the fallback.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

#: Larger METADATA members are not read (a hostile archive could claim any size).
MAX_METADATA_BYTES = 16 << 20


def read_core_metadata(wheel: str | Path | BinaryIO) -> bytes | None:
    """The one top-level `<name>.dist-info/METADATA` member of `wheel` (a path or a seekable
    reader), or None."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            candidates = [
                info
                for info in archive.infolist()
                if info.filename.endswith(".dist-info/METADATA") and info.filename.count("/") == 1
            ]
            if len(candidates) != 1 or candidates[0].file_size > MAX_METADATA_BYTES:
                return None
            return archive.read(candidates[0])  # checks the member's CRC
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError, EOFError):
        return None


__all__ = ["read_core_metadata", "MAX_METADATA_BYTES"]
