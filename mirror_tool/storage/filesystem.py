"""`FilesystemStorage`: the tree as files below `<directory>/web/` (what nginx serves).

Writes are atomic (`os.replace` of a temporary sibling; downloads linked in from an O_TMPFILE
inode, staging.py), and `flush` is one `syncfs` of the filesystem: it covers every file and
directory written before it, so concurrent callers share flushes instead of paying an fsync per
file. Listing runs GNU `find` in another process (on the other core) while the caller works.
"""

from __future__ import annotations

import ctypes
import os
import stat as statmod
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

from mirror_tool.storage import keys
from mirror_tool.storage.atomic import atomic_write, os_error
from mirror_tool.storage.base import ObjectInfo, Staged, Storage
from mirror_tool.storage.staging import open_staged

CHUNK = 1 << 20


class FilesystemStorage(Storage):
    """Objects are files `web/<key>`; downloads without O_TMPFILE are staged in `tmp`."""

    def __init__(self, web: Path, tmp: Path, *, manage_permissions: bool = True) -> None:
        self.web = Path(web)
        self.tmp = Path(tmp)
        #: False (`storage-filesystem-manage-permissions`): modes come from the umask and ACLs.
        self.mode: int | None = 0o644 if manage_permissions else None
        self._root = str(self.web)
        self._buffers = threading.local()
        self._flush_lock = threading.Lock()
        self._flush_started = 0
        self._flush_completed = 0  # number of the last flush that finished
        try:
            self._libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
            self._libc.syncfs  # noqa: B018  (probe)
        except (OSError, AttributeError):
            self._libc = None

    def path(self, key: str) -> str:
        if not keys.is_safe(key):
            raise ValueError(f"unsafe storage key {key!r}")
        return f"{self._root}/{key}"

    # -- writing -------------------------------------------------------------------------------
    def prepare(self) -> None:
        import shutil

        try:
            for directory in (self.web, self.web / keys.SIMPLE, self.web / keys.PACKAGES, self.tmp):
                directory.mkdir(parents=True, exist_ok=True)
            for entry in os.scandir(self.tmp):
                try:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    pass
        except OSError as exc:
            raise os_error(exc, str(self.web), whole_run=True) from exc

    def stage(self, key: str, size: int | None) -> Staged:
        return open_staged(self.path(key), f"{self.tmp}/dl-{os.getpid()}-{threading.get_ident()}-", self.mode)

    def write(self, key: str, data: bytes, content_type: str) -> None:
        atomic_write(self.path(key), data, self.mode)

    def remove(self, key: str) -> bool:
        """Unlink `key`, then its directories while they are empty (up to `packages/` or `web/`)."""
        path = self.path(key)
        try:
            os.unlink(path)
            removed = True
        except FileNotFoundError:
            removed = False
        except OSError as exc:
            raise os_error(exc, path, "delete") from exc
        stop = keys.PACKAGES if key.startswith(keys.PACKAGES) else ""
        parts = key.split("/")[:-1]
        while parts and "/".join(parts) + "/" != stop:
            try:
                os.rmdir(f"{self._root}/{'/'.join(parts)}")
            except OSError:
                break
            parts.pop()
        return removed

    def flush(self) -> None:
        """One `syncfs` covers everything written before this call; callers that arrive while
        one runs wait for the next (theirs may have started before their writes)."""
        needed = self._flush_started + 1
        with self._flush_lock:
            if self._flush_completed >= needed:
                return
            self._flush_started += 1
            ticket = self._flush_started
            self._syncfs()
            self._flush_completed = ticket

    def _syncfs(self) -> None:
        if self._libc is None:
            os.sync()
            return
        try:
            fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            os.sync()
            return
        try:
            if self._libc.syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    # -- reading -------------------------------------------------------------------------------
    def read(self, key: str) -> bytes | None:
        reader = self.open_read(key)
        if reader is None:
            return None
        with reader:
            try:
                return reader.read()
            except OSError as exc:
                raise os_error(exc, self.path(key), "read") from exc

    def open_read(self, key: str) -> BinaryIO | None:
        path = self.path(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise os_error(exc, path, "read") from exc

    def stat(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise os_error(exc, path, "read") from exc
        return ObjectInfo(key, st.st_size) if statmod.S_ISREG(st.st_mode) else None

    def sha256(self, key: str) -> str | None:
        """Small files in one read, large ones in 1 MiB chunks into a reused per-thread buffer."""
        import hashlib
        try:
            fd = os.open(self.path(key), os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise os_error(exc, self.path(key), "read") from exc
        try:
            data = os.read(fd, CHUNK)
            if len(data) < CHUNK:
                return hashlib.sha256(data).hexdigest()
            digest = hashlib.sha256(data)
            buf = getattr(self._buffers, "buf", None)
            if buf is None:
                buf = self._buffers.buf = bytearray(CHUNK)
            view = memoryview(buf)
            while True:
                n = os.readv(fd, [buf])
                if not n:
                    return digest.hexdigest()
                digest.update(view[:n])
        except IsADirectoryError:
            return None
        except OSError as exc:
            raise os_error(exc, self.path(key), "read") from exc
        finally:
            os.close(fd)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Files whose key starts with `prefix` (which names a directory, or ends in `/`).

        A whole area (`packages/`, `simple/`) is listed by GNU find in another process, on the
        other core, while the caller (verify's hashing threads) works: a Python walk would compete
        with them for the GIL. A deeper prefix (one project's directory) is walked in-process.
        """
        import shutil

        base = prefix.rstrip("/")
        top = f"{self._root}/{base}" if base else self._root
        if not os.path.isdir(top):
            return iter(())
        find = shutil.which("find") if base.count("/") == 0 else None
        if find:
            return self._stream_find(find, top, base)
        return self._walk(top, f"{base}/" if base else "")

    @staticmethod
    def _stream_find(find: str, top: str, base: str) -> Iterator[ObjectInfo]:
        """find's answer read as it comes: never the whole listing in memory at once (verify
        lists every file of the tree; that grew with the number of files, not of projects).
        Entries find could not read (permissions, vanished meanwhile) are skipped, like `_walk`
        skips them."""
        import subprocess  # only listing needs it: not imported by every run

        lead = f"{base}/" if base else ""
        with subprocess.Popen([find, ".", "-mindepth", "1", "!", "-type", "d", "-printf", "%s %P\\0"],
                              cwd=top, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            try:
                rest = b""
                while chunk := proc.stdout.read(1 << 20):
                    items = (rest + chunk).split(b"\0")
                    rest = items.pop()
                    for item in items:
                        size, _, rel = item.partition(b" ")
                        yield ObjectInfo(lead + rel.decode("utf-8", "surrogateescape"), int(size))
            finally:
                if proc.poll() is None:
                    proc.kill()

    def _walk(self, directory: str, lead: str) -> Iterator[ObjectInfo]:
        try:
            with os.scandir(directory) as entries:
                found = list(entries)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in found:
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(entry.path, f"{lead}{entry.name}/")
            else:
                try:
                    size = entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
                yield ObjectInfo(lead + entry.name, size)


__all__ = ["FilesystemStorage"]
