"""Where a download is written before it appears, complete and verified, at its final path.

Why O_TMPFILE: the file is an unnamed inode in its destination directory until `commit` links
it in, so a crash or SIGKILL mid-download leaves nothing anywhere (the kernel frees the inode),
and publishing is one `linkat` in the same directory. A named temporary in the shared `tmp/`
directory (the fallback, for filesystems without O_TMPFILE or a host without /proc) needs a
cross-directory rename per file, which the kernel serialises per filesystem, and every worker
creating files in that one directory contends on its lock: both showed up in profiles of a full
sync with several worker processes.

Why O_DIRECT for large files: copying a gigabyte into the page cache cost more CPU here than
receiving and hashing it (measured with dd: 1.4 s of system time per GB buffered against 0.1 s
direct), and the pages still had to be flushed before the project's page could be published.
Direct writes go from the (page-aligned) download buffer to the disk. They need block-aligned
lengths, so the unaligned tail of a file is written through the page cache; a filesystem that
refuses O_DIRECT (tmpfs, some network filesystems) gets buffered writes from then on.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os

from mirror_tool.layout import write_all

#: Files at least this large (when the size is known in advance) are written with O_DIRECT.
DIRECT_MIN_BYTES = 4 << 20
#: Direct writes are issued in multiples of this (the largest common logical block size).
DIRECT_ALIGN = 4096

_COUNTER = itertools.count()
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}
_O_DIRECT = getattr(os, "O_DIRECT", 0)
_tmpfile_works = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")
_direct_works = bool(_O_DIRECT)


class Staged:
    """An open staging file for `dest`: `write()` to it, then `commit()` or `discard()`.

    This base class is a named temporary file (the fallback); `TmpfileStaged` an O_TMPFILE inode.
    """

    def __init__(self, dest: str, fd: int, named: str | None = None, direct: bool = False) -> None:
        self.dest = dest
        self.fd = fd
        self.direct = direct
        self._named = named

    def write(self, data: memoryview) -> None:
        """Write all of `data` (from a page-aligned buffer when direct). OSError propagates."""
        if self.direct:
            done = 0
            aligned = len(data) - len(data) % DIRECT_ALIGN
            while done < aligned:
                try:
                    done += os.write(self.fd, data[done:aligned])
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    _give_up_direct()  # this filesystem wants other alignment: buffered from now
                    break
                if done % DIRECT_ALIGN:
                    break  # a short write left us unaligned: the rest goes buffered
            data = data[done:]
            if data:
                self._stop_direct()  # the unaligned tail (end of file) goes through the page cache
        write_all(self.fd, data)

    def _stop_direct(self) -> None:
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~_O_DIRECT)
        self.direct = False

    def commit(self) -> None:
        """Make the written bytes appear at `dest` atomically (replacing an older file)."""
        self._close()
        assert self._named is not None
        try:
            os.replace(self._named, self.dest)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(self.dest), exist_ok=True)
            os.replace(self._named, self.dest)
        self._named = None

    def discard(self) -> None:
        """Drop the staged bytes (nothing was published)."""
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


class TmpfileStaged(Staged):
    """An unnamed O_TMPFILE inode in `dest`'s directory; `commit` links it in."""

    def commit(self) -> None:
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
                spare = f"{self.dest}.{os.getpid()}-{next(_COUNTER)}.part"
                os.link(source, spare, **follow)
                try:
                    os.replace(spare, self.dest)
                except BaseException:
                    try:
                        os.unlink(spare)
                    except OSError:
                        pass
                    raise
        finally:
            self._close()


def open_staged(dest: str, fallback_prefix: str, size: int | None = None) -> Staged:
    """A staging file for `dest` (creating its directory); `fallback_prefix` names temporaries
    in `tmp/` when O_TMPFILE is not available; `size` (if known) picks direct writes for large
    files. OSError propagates (the caller maps it)."""
    global _tmpfile_works
    direct = _direct_works and size is not None and size >= DIRECT_MIN_BYTES
    if _tmpfile_works:
        parent = os.path.dirname(dest)
        for _attempt in range(3):
            flags = os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC | (_O_DIRECT if direct else 0)
            try:
                fd = os.open(parent, flags, 0o644)
                os.fchmod(fd, 0o644)  # independent of the umask, like the named path
                return TmpfileStaged(dest, fd, direct=direct)
            except FileNotFoundError:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED:
                    raise
                if direct:
                    _give_up_direct()
                    direct = False
                    continue
                _tmpfile_works = False
                break
    named = f"{fallback_prefix}{next(_COUNTER)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(named, flags | (_O_DIRECT if direct else 0), 0o644)
    except OSError as exc:
        if not direct or exc.errno not in _UNSUPPORTED:
            raise
        _give_up_direct()
        direct = False
        fd = os.open(named, flags, 0o644)
    return Staged(dest, fd, named, direct=direct)


def _give_up_direct() -> None:
    global _direct_works
    _direct_works = False


__all__ = ["Staged", "TmpfileStaged", "open_staged", "DIRECT_MIN_BYTES"]
