"""The object store's access key and secret, read from a file only the mirror user can read.

Why a file and these checks: the secret opens the whole bucket (write and delete), so it never
sits in the config file (0640, group-readable) or in a process's arguments. Like ssh with a
private key, a file that others could read or replace is refused, before a single request is
signed with it: group or other permission bits, or an owner other than the user running the
mirror (root may use a file of any owner, as it could read it anyway). Every problem is a
`CredentialsError`, exit 9, one line naming the file and what to do.

Format: an AWS shared-credentials file, the one the AWS CLI, boto3 and `scripts/swift_aio.py`
write::

    [default]
    aws_access_key_id = mirror:writer
    aws_secret_access_key = <secret>
"""

from __future__ import annotations

import configparser
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from mirror_tool.errors import CredentialsError

PROFILE = "default"


@dataclass(frozen=True)
class Credentials:
    """An access key and its secret. The repr hides the secret (objects end up in log lines)."""

    access_key: str
    secret_key: str
    source: Path

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r}, secret=<hidden>, source={str(self.source)!r})"


def check_file(path: Path) -> os.stat_result:
    """The file's stat once it is safe to read: a regular file, owned by us (or we are root),
    no permission bits for group or others."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CredentialsError(f"object-store credentials file {path} does not exist") from None
    except OSError as exc:
        raise CredentialsError(f"cannot read object-store credentials file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CredentialsError(f"object-store credentials file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise CredentialsError(f"object-store credentials file {path} is open to other users (mode {mode:04o}): "
                               f"make it mode 0400 (chmod 0400 {path})")
    euid = os.geteuid()
    if st.st_uid != euid and euid != 0:
        raise CredentialsError(f"object-store credentials file {path} belongs to uid {st.st_uid}, not to the user "
                               f"running the mirror (uid {euid}): chown it to that user")
    return st


def read_credentials(path: Path) -> Credentials:
    """The `[default]` access key and secret of the shared-credentials file at `path`."""
    check_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise CredentialsError(f"cannot read object-store credentials file {path}: {reason}") from None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error:
        raise CredentialsError(f"object-store credentials file {path} is not an INI file with a [{PROFILE}] "
                               "section") from None  # the parser's message may quote the secret
    section = parser[PROFILE] if parser.has_section(PROFILE) else None
    access = section.get("aws_access_key_id", "").strip() if section else ""
    secret = section.get("aws_secret_access_key", "").strip() if section else ""
    if not access or not secret:
        raise CredentialsError(f"object-store credentials file {path} needs aws_access_key_id and "
                               f"aws_secret_access_key in its [{PROFILE}] section")
    return Credentials(access, secret, path)


__all__ = ["Credentials", "check_file", "read_credentials"]
