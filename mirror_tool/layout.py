"""Paths of the on-disk layout and the atomic-write primitives every writer uses.

Pages and state files reach their final name by `os.replace` from a temporary sibling, and
downloads by a link from an unnamed O_TMPFILE inode (or a temporary in `<directory>/tmp/`; see
staging.py), so a reader never sees a half-written file and an interrupted run leaves at most
stray temporaries. OS errors that mean "the disk cannot take this"
become StorageError (exit 7).
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import shutil
import threading
from pathlib import Path

from mirror_tool.errors import StorageError

GENERATION = "5"
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG, errno.EIO}


def storage_error(exc: OSError, what: str) -> StorageError:
    reason = exc.strerror or str(exc)
    return StorageError(f"cannot write {what}: {reason}")


def is_storage_errno(exc: OSError) -> bool:
    return exc.errno in STORAGE_ERRNOS


class Layout:
    """Where everything lives below `directory`."""

    def __init__(self, directory: Path) -> None:
        self.root = Path(directory)
        self.web = self.root / "web"
        self.simple = self.web / "simple"
        self.packages = self.web / "packages"
        self.tmp = self.root / "tmp"
        self.status = self.root / "status"
        self.state_json = self.root / "state.json"
        self.todo = self.root / "todo"
        self.generation = self.root / "generation"
        self.stale_json = self.root / "stale.json"
        self.last_modified = self.web / "last-modified"

    def project_dir(self, normalized: str) -> Path:
        return self.simple / normalized

    def json_paths(self, normalized: str) -> tuple[Path, Path]:
        return self.web / "pypi" / normalized / "json", self.web / "json" / normalized

    def file_path(self, rel: str) -> Path:
        """`rel` is `packages/...` as produced by names.package_rel_path."""
        return self.web / rel

    def prepare(self) -> None:
        """Create the directories and the generation file; clear stray temporaries."""
        try:
            for d in (self.root, self.web, self.simple, self.packages, self.tmp):
                d.mkdir(parents=True, exist_ok=True)
            for entry in os.scandir(self.tmp):
                try:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    pass
            if not self.generation.exists():
                atomic_write(self.generation, (GENERATION + "\n").encode())
        except OSError as exc:
            raise storage_error(exc, str(self.root)) from exc


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, fsync: bool = False) -> None:
    """Write `data` to `path` via a temporary sibling and `os.replace`.

    Readers (nginx, node_exporter, the next run) see the old or the new file, never a mix.
    `fsync` forces the bytes to disk before the rename, for files written outside a
    `DurabilityBarrier` (the wrapper's state and metrics). Plain os calls with a pid+counter
    name: `tempfile.mkstemp` and a buffered file object cost several times more, and a sync
    writes five pages per project.
    """
    name = os.fspath(path)
    parent, base = os.path.split(name)
    tmp = f"{parent}/.{base}.{os.getpid()}-{next(_WRITE_COUNTER)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:  # left by a dead process that had our pid
            os.unlink(tmp)
            fd = os.open(tmp, flags, 0o600)
        try:
            try:
                write_all(fd, data)
                if fsync:
                    os.fsync(fd)
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
        raise storage_error(exc, name) from exc


_WRITE_COUNTER = itertools.count()


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until everything is written (a short write is retried; errors raise)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def remove_file(path: Path) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def prune_empty_dirs(start: Path, stop_at: Path) -> None:
    """Remove `start` and its parents while empty, never `stop_at` itself."""
    current = start
    while current != stop_at and stop_at in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


class DurabilityBarrier:
    """Makes downloaded files durable before pages that list them are published.

    One `syncfs` of the mirror's filesystem covers every file written before it started, so
    concurrent callers share flushes instead of paying an fsync per file.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._completed = 0  # number of the last flush that finished
        self._started = 0
        self._libc = None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syncfs  # noqa: B018  (probe)
            self._libc = libc
        except (OSError, AttributeError):
            self._libc = None

    def flush(self) -> None:
        """Return once everything written before this call is on stable storage."""
        needed = self._started + 1
        with self._lock:
            if self._completed >= needed:
                return
            self._started += 1
            ticket = self._started
            self._flush_now()
            self._completed = ticket

    def _flush_now(self) -> None:
        if self._libc is not None:
            try:
                fd = os.open(self._directory, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                os.sync()
                return
            try:
                if self._libc.syncfs(fd) != 0:
                    os.sync()
            finally:
                os.close(fd)
        else:
            os.sync()
