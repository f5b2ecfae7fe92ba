"""`[object-store]` in the config file and the credentials file's checks (no store needed).

The section is required with `storage-backend = s3` and refused without it; the credentials file
is refused, with one line naming it and exit 9, when it is missing, open to other users, owned by
another user, or lacks the keys, and its secret never appears in a message or a repr.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from mirror_tool.config import parse_config_text
from mirror_tool.errors import ConfigError, CredentialsError
from mirror_tool.exitcodes import ExitCode, most_urgent
from mirror_tool.storage.credentials import read_credentials

BASE = "[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:9\n"
S3 = BASE + "storage-backend = s3\n"
SECRET = "sekrit-value-42"


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_config_text(text, Path("x.conf"))


def test_object_store_section_is_parsed_and_normalised() -> None:
    config = parse(S3 + "[object-store]\nendpoint = http://swift:8080/\nbucket = pypi.mirror_1\n"
                   "prefix = /eu/west/\ncredentials-file = /etc/s3.cred\n")
    store = config.mirror.object_store
    assert store is not None
    assert (store.endpoint, store.bucket, store.prefix, store.region, store.addressing_style) == (
        "http://swift:8080", "pypi.mirror_1", "eu/west/", "us-east-1", "path")
    assert store.credentials_file == Path("/etc/s3.cred")
    assert config.filters.sections == frozenset(), "[object-store] is not a filter section"
    assert parse(BASE).mirror.object_store is None


@pytest.mark.parametrize(("text", "where", "problem"), [
    (S3, "[object-store] bucket", "missing (required)"),
    (S3 + "[object-store]\nbucket = b\n", "[object-store] credentials-file", "missing (required)"),
    (S3 + "[object-store]\nbucket = a/b\ncredentials-file = /c\n", "[object-store] bucket", "not a bucket name"),
    (S3 + "[object-store]\nbucket = b\nprefix = a/../b\ncredentials-file = /c\n", "[object-store] prefix", "'..'"),
    (S3 + "[object-store]\nbucket = b\nregion = us east\ncredentials-file = /c\n", "[object-store] region", "without spaces"),
    (S3 + "[object-store]\nbucket = b\ncredentials-file = c\n", "[object-store] credentials-file", "absolute"),
    (S3 + "[object-store]\nbucket = b\ncredentials-file = /c\nsecret = x\n", "[object-store] secret", "unknown key"),
    (BASE + "[object-store]\nbucket = b\ncredentials-file = /c\n", "[object-store]", "storage-backend is filesystem"),
    (BASE + "storage-backend = gcs\n", "[mirror] storage-backend", "filesystem, s3"),
])
def test_object_store_mistakes_are_one_config_error(text: str, where: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(text)
    assert str(error.value).startswith(where + ":") and problem in str(error.value), str(error.value)
    assert error.value.exit_code == ExitCode.CONFIG


def write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_safe_credentials_file_is_read_and_its_secret_hidden(tmp_path: Path) -> None:
    path = write(tmp_path / "cred", f"[default]\naws_access_key_id = mirror:writer\naws_secret_access_key = {SECRET}\n", 0o400)
    credentials = read_credentials(path)
    assert (credentials.access_key, credentials.secret_key) == ("mirror:writer", SECRET)
    assert SECRET not in repr(credentials) and SECRET not in str(credentials)
    write(path, path.read_text(), 0o600)
    assert read_credentials(path).secret_key == SECRET


@pytest.mark.parametrize(("text", "mode", "problem"), [
    (f"[default]\naws_access_key_id = k\naws_secret_access_key = {SECRET}\n", 0o640, "mode 0640"),
    (f"[default]\naws_access_key_id = k\naws_secret_access_key = {SECRET}\n", 0o604, "mode 0604"),
    ("[default]\naws_access_key_id = k\n", 0o400, "needs aws_access_key_id and aws_secret_access_key"),
    (f"[other]\naws_access_key_id = k\naws_secret_access_key = {SECRET}\n", 0o400, "[default]"),
    (f"aws_secret_access_key = {SECRET}\n", 0o400, "not an INI file"),
])
def test_an_unsafe_or_incomplete_credentials_file_is_exit_9(tmp_path: Path, text: str, mode: int, problem: str) -> None:
    path = write(tmp_path / "cred", text, mode)
    with pytest.raises(CredentialsError) as error:
        read_credentials(path)
    message = str(error.value)
    assert problem in message and str(path) in message and "\n" not in message, message
    assert SECRET not in message
    assert error.value.exit_code == ExitCode.CREDENTIALS


def test_a_missing_directory_or_foreign_credentials_file_is_exit_9(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="does not exist"):
        read_credentials(tmp_path / "absent")
    with pytest.raises(CredentialsError, match="not a regular file"):
        read_credentials(tmp_path)
    if os.geteuid() != 0:
        foreign = Path("/etc/hostname")  # someone else's file (root's), mode 0644 aside
        with pytest.raises(CredentialsError):
            read_credentials(foreign)
        return
    # as root: a file another user owns is accepted (root reads anything); a non-root mirror user
    # is refused another user's file: checked in a child that drops to nobody
    shared = Path(tempfile.mkdtemp(prefix="cred-", dir="/tmp"))  # pytest's tmp_path is root's alone (0700)
    shared.chmod(0o755)
    path = write(shared / "cred", f"[default]\naws_access_key_id = k\naws_secret_access_key = {SECRET}\n", 0o400)
    read, written = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read)
        try:
            os.setuid(65534)
            try:
                read_credentials(path)
                verdict = "accepted"
            except CredentialsError as exc:
                verdict = str(exc)
        except BaseException as exc:  # noqa: BLE001
            verdict = f"child failed: {exc}"
        os.write(written, verdict.encode())
        os._exit(0)
    os.close(written)
    with os.fdopen(read) as pipe:
        verdict = pipe.read()
    os.waitpid(pid, 0)
    shutil.rmtree(shared)
    assert "belongs to uid 0, not to the user running the mirror (uid 65534)" in verdict, verdict


def test_refused_credentials_outrank_every_code_but_config_and_lock() -> None:
    assert most_urgent(ExitCode.CREDENTIALS, ExitCode.STORAGE, ExitCode.UNREACHABLE, ExitCode.FAILED) == ExitCode.CREDENTIALS
    assert most_urgent(ExitCode.CREDENTIALS, ExitCode.LOCKED) == ExitCode.LOCKED
    assert most_urgent(ExitCode.CREDENTIALS, ExitCode.CONFIG) == ExitCode.CONFIG
