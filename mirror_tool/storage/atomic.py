"""Replacing one local file atomically, and what an OSError from the disk means for the run.

Pages (through FilesystemStorage) and the state files beside `web/` (through state.py) reach
their final name by `os.replace` from a temporary sibling, so a reader (nginx, node_exporter, the
next run) sees the old or the new file, never a mix, and a killed run leaves at most a stray
temporary.
"""

from __future__ import annotations

import errno
import itertools
import os

from mirror_tool.errors import MirrorError, ProjectError, StorageError

#: errnos that mean "this disk cannot take writes" (the run stops, exit 7); any other OSError
#: concerns one object (a name the filesystem refuses, a file where a directory should be) and
#: fails only the project it belongs to.
STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG, errno.EIO, errno.EMFILE, errno.ENFILE}
)

_COUNTER = itertools.count()


def os_error(exc: OSError, what: str, verb: str = "write", *, whole_run: bool = False) -> MirrorError:
    """The mirror error for an OSError met while trying to `verb` `what`; `whole_run`: what
    failed is something every project needs (the tree's directories, a state file)."""
    message = f"cannot {verb} {what}: {exc.strerror or exc}"
    return StorageError(message) if whole_run or exc.errno in STORAGE_ERRNOS else ProjectError(message)


def temp_name(parent: str, suffix: str) -> str:
    """A sibling name for a temporary in `parent`, short whatever the final name's length (a
    name near the filesystem's 255-byte limit must not make its temporary too long)."""
    return f"{parent}/.{os.getpid()}-{next(_COUNTER)}{suffix}"


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until everything is written (a short write is retried; errors raise)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int | None = 0o644, *, fsync: bool = False) -> None:
    """Write `data` to `path` via a temporary sibling and `os.replace`, creating the directory.

    `mode` None: the mode the umask and the directory's default ACL give. `fsync` forces the bytes to disk before the rename, for files written outside the storage's
    `flush` (the wrapper's state and metrics). Plain os calls: `tempfile.mkstemp` and a buffered
    file object cost several times more, and a sync writes five pages per project. Raises
    StorageError / ProjectError (`os_error`).
    """
    name = os.fspath(path)
    parent = os.path.dirname(name) or "."
    tmp = temp_name(parent, ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    create = 0o600 if mode is not None else 0o666
    try:
        try:
            fd = os.open(tmp, flags, create)
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, flags, create)
        except FileExistsError:  # left by a dead process that had our pid
            os.unlink(tmp)
            fd = os.open(tmp, flags, create)
        try:
            try:
                write_all(fd, data)
                if fsync:
                    os.fsync(fd)
                if mode is not None:
                    os.fchmod(fd, mode)
            finally:
                os.close(fd)
            os.replace(tmp, name)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise os_error(exc, name) from exc


__all__ = ["STORAGE_ERRNOS", "atomic_write", "os_error", "temp_name", "write_all"]
