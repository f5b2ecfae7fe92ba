"""Refusing to run as root on a mirror tree that belongs to another user.

Why: cron runs the sync as the mirror user. An operator who starts `pypi-mirror mirror` or
`pypi-mirror-run` as root by hand leaves root-owned pages, files, state files and lock file
behind (a verify or delete leaves at least a root-owned log file or lock file), and every later
cron run fails on them (exit 7, permission denied) until someone chowns the tree. So both commands
(`pypi-mirror` for everything but `status` and `check-config`, which write nothing), when root and
the tree's directory is owned by someone else, print
one line naming the right user and the command to run instead, and exit 2 (a usage error: the
command was started the wrong way and nothing was touched). `--allow-root` overrides it. Root on
a root-owned tree, or on one that does not exist yet, is fine.
"""

from __future__ import annotations

import os
import pwd
import shlex
import sys
from pathlib import Path
from typing import Sequence


def owner_name(uid: int) -> str:
    """The user name of `uid`, or `#uid` (what sudo -u accepts) when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"


def refusal(directory: Path, prog: str, argv: Sequence[str]) -> str | None:
    """The one line that refuses this run (None: go ahead): we are root and `directory` exists
    and belongs to another user. `argv`: the arguments as given, for the command to suggest."""
    if os.geteuid() != 0:
        return None
    try:
        uid = os.stat(directory).st_uid
    except OSError:  # not there yet: the run creates it as root, which is what root asked for
        return None
    if uid == 0:
        return None
    user = owner_name(uid)
    program = sys.argv[0] if os.path.basename(sys.argv[0]) == prog else prog
    command = shlex.join(["sudo", "-u", user, program, *argv])
    return (f"{prog}: refusing to run as root: {directory} belongs to {user} and files written as root "
            f"would break its next runs; run as {user}: {command} (or add --allow-root)")


__all__ = ["owner_name", "refusal"]
