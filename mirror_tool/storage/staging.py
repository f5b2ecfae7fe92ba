"""Where a download is written before it appears, complete and verified, under its key.

Why O_TMPFILE: the file is an unnamed inode in its destination directory until `commit` links
it in, so a crash or SIGKILL mid-download leaves nothing anywhere (the kernel frees the inode),
and publishing is one `linkat` in the same directory. A named temporary in the shared `tmp/`
directory (the fallback, for filesystems without O_TMPFILE or a host without /proc) needs a
cross-directory rename per file, which the kernel serialises per filesystem, and every worker
creating files in that one directory contends on its lock: both showed up in profiles of a full
sync with several worker processes.

Writes go through the page cache (nginx serves fresh files from it); large files start kernel
writeback every few MiB while they download, so the flush before their page is published finds
little left to write.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
from typing import Any

from mirror_tool.storage.atomic import os_error, temp_name, write_all
from mirror_tool.storage.base import Staged

_COUNTER = itertools.count()
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}
_tmpfile_works = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")

#: Large downloads start kernel writeback every this many bytes.
WRITEBACK_STEP = 8 << 20
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Any:
    try:
        func = ctypes.CDLL(None, use_errno=True).sync_file_range
        func.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
        return func
    except (OSError, AttributeError):
        return None


_sync_file_range = _load_sync_file_range()


class NamedStaged(Staged):
    """A named temporary in `tmp/` (the fallback); `commit` renames it into place."""

    def __init__(self, dest: str, fd: int, named: str | None) -> None:
        self.dest = dest
        self.fd = fd
        self._named = named
        self._written = 0
        self._flushed = 0

    def write(self, data: bytes | memoryview) -> None:
        try:
            write_all(self.fd, data)
        except OSError as exc:
            raise os_error(exc, self.dest) from exc
        self._written += len(data)
        if self._written - self._flushed >= WRITEBACK_STEP and _sync_file_range is not None:
            # Asynchronous and best effort: ask the kernel to start writing this range out now.
            _sync_file_range(self.fd, self._flushed, self._written - self._flushed, _SYNC_FILE_RANGE_WRITE)
            self._flushed = self._written

    def commit(self, sha256: str) -> None:
        try:
            self._close()
            assert self._named is not None
            try:
                os.replace(self._named, self.dest)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(self.dest), exist_ok=True)
                os.replace(self._named, self.dest)
            self._named = None
        except OSError as exc:
            self.discard()
            raise os_error(exc, self.dest) from exc

    def discard(self) -> None:
        self._close()
        if self._named is not None:
            try:
                os.unlink(self._named)
            except OSError:
                pass
            self._named = None

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class TmpfileStaged(NamedStaged):
    """An unnamed O_TMPFILE inode in `dest`'s directory; `commit` links it in."""

    def commit(self, sha256: str) -> None:
        source = f"/proc/self/fd/{self.fd}"
        # Any src_dir_fd makes os.link call linkat(..., AT_SYMLINK_FOLLOW) instead of link(),
        # which would try to hard-link the /proc symlink itself (EXDEV); the absolute source
        # path means the kernel ignores the descriptor's value.
        follow = {"src_dir_fd": self.fd}
        try:
            try:
                os.link(source, self.dest, **follow)
            except FileExistsError:
                # Replacing a file (a repair): link under a spare name, then rename over it.
                spare = temp_name(os.path.dirname(self.dest), ".part")
                os.link(source, spare, **follow)
                try:
                    os.replace(spare, self.dest)
                except BaseException:
                    try:
                        os.unlink(spare)
                    except OSError:
                        pass
                    raise
        except OSError as exc:
            raise os_error(exc, self.dest) from exc
        finally:
            self._close()


def open_staged(dest: str, fallback_prefix: str, mode: int | None = 0o644) -> NamedStaged:
    """A staging file for `dest` (creating its directory); `fallback_prefix` names temporaries
    in `tmp/` when O_TMPFILE is not available. `mode` None: what the umask and the directory's
    default ACL give (`storage-filesystem-manage-permissions = false`)."""
    global _tmpfile_works
    try:
        if _tmpfile_works:
            parent = os.path.dirname(dest)
            for _attempt in range(2):
                try:
                    fd = os.open(parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666 if mode is None else mode)
                    if mode is not None:
                        os.fchmod(fd, mode)  # independent of the umask
                    return TmpfileStaged(dest, fd, None)
                except FileNotFoundError:
                    os.makedirs(parent, exist_ok=True)
                except OSError as exc:
                    if exc.errno not in _UNSUPPORTED:
                        raise
                    _tmpfile_works = False
                    break
        named = f"{fallback_prefix}{next(_COUNTER)}"
        fd = os.open(named, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666 if mode is None else mode)
        if mode is not None:
            os.fchmod(fd, mode)
        return NamedStaged(dest, fd, named)
    except OSError as exc:
        raise os_error(exc, dest) from exc


__all__ = ["NamedStaged", "TmpfileStaged", "open_staged"]
