"""The run lock `<directory>/.lock` is readable by its owner only (issue 13, item 14).

flock(2) needs only a read-only descriptor: anyone who can open the lock file can hold a shared
lock on it and make every sync exit 4 ("lock busy"). Mode 0600 keeps other local users out.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mirror_tool.lock import MirrorLock


def test_lock_file_is_created_0600_whatever_the_umask(tmp_path: Path) -> None:
    lock_path = tmp_path / "mirror" / ".lock"
    old_umask = os.umask(0)  # the mode must come from the code, not from a strict umask
    try:
        with MirrorLock(lock_path):
            mode = stat.S_IMODE(lock_path.stat().st_mode)
    finally:
        os.umask(old_umask)
    assert mode == 0o600, oct(mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another user")
def test_another_user_cannot_take_a_shared_lock() -> None:
    """With the directory open to everyone, only the file's mode keeps `nobody` out."""
    # Not below pytest's 0700 tmp_path: the directory must be traversable by others, like
    # /srv/pypi-mirror (0755).
    directory = Path(tempfile.mkdtemp(prefix="pypi-mirror-lock-", dir="/tmp"))
    directory.chmod(0o755)
    try:
        _probe_as_nobody(directory)
    finally:
        shutil.rmtree(directory)


def _probe_as_nobody(directory: Path) -> None:
    with MirrorLock(directory / ".lock"):
        pass
    probe = ("import fcntl, os, sys\n"
             "try:\n"
             "    fd = os.open(sys.argv[1], os.O_RDONLY)\n"
             "except PermissionError:\n"
             "    sys.exit(13)\n"
             "fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)\n")
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                             sys.executable, "-c", probe, str(directory / ".lock")],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 13, result.stderr
