"""A real OpenStack Swift for the object-store tests: scripts/swift_aio.py, once per session.

Tests ask for the `swift` fixture (the running instance: endpoint, credentials, clients) or for
`swift_bucket` (a fresh empty bucket of their own in it); `tests/conftest.py` imports both. The
instance starts when the first test asks for it and stops at the end of the session. It is
skipped only where it cannot run at all: not root, or Swift's Debian packages missing
(`scripts/setup-host.sh` installs them, so CI always runs these tests).

    def test_put(swift, swift_bucket):
        s3 = swift.s3()
        s3.put_object(Bucket=swift_bucket, Key="simple/index.html", Body=b"...")
        requests.get(swift.public_url(swift_bucket, "simple/index.html"))  # after make_public
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "swift_aio.py"
#: What swift_aio.py runs, and the Debian packages that ship it.
EXECUTABLES = ("swift-proxy-server", "swift-object-server", "swift-container-server", "swift-account-server",
               "swift-object-updater", "memcached")
PACKAGES = "swift-proxy swift-object swift-container swift-account memcached"


class SwiftStartError(RuntimeError):
    """swift_aio.py could not start the instance; carries its one-line reason."""


@dataclass(frozen=True)
class Swift:
    """A running all-in-one: where it listens and who may write to it (from DIR/swift-aio.env)."""

    directory: Path
    endpoint: str  # S3 endpoint URL (path-style): <endpoint>/<bucket>/<key>
    region: str  # the s3api `location`; SigV4 requests must be signed for it
    access_key: str  # tempauth "account:user"
    secret_key: str
    auth_url: str  # Swift API (tempauth v1.0)
    user: str
    key: str
    storage_url: str  # Swift API account URL: <storage_url>/<container>/<object>

    @classmethod
    def from_directory(cls, directory: Path) -> Swift:
        env = dict(
            line.split("=", 1)
            for line in (directory / "swift-aio.env").read_text(encoding="utf-8").splitlines()
            if "=" in line
        )
        return cls(
            directory=directory,
            endpoint=env["SWIFT_AIO_ENDPOINT"],
            region=env["SWIFT_AIO_REGION"],
            access_key=env["SWIFT_AIO_ACCESS_KEY"],
            secret_key=env["SWIFT_AIO_SECRET_KEY"],
            auth_url=env["SWIFT_AIO_AUTH_URL"],
            user=env["SWIFT_AIO_USER"],
            key=env["SWIFT_AIO_KEY"],
            storage_url=env["SWIFT_AIO_STORAGE_URL"],
        )

    @property
    def credentials_file(self) -> Path:
        """An AWS shared-credentials file (`[default]` profile, mode 0600) for these keys."""
        return self.directory / "aws-credentials"

    def s3(self, **overrides: Any) -> Any:
        """A boto3 S3 client for this instance: path-style addressing, the instance's region.

        `overrides` are boto3.client keywords (e.g. aws_secret_access_key="wrong").
        """
        import boto3  # noqa: PLC0415  (only the object-store tests pay for importing boto3)
        from botocore.config import Config  # noqa: PLC0415

        settings: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "config": Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        }
        settings.update(overrides)
        return boto3.client("s3", **settings)

    def swift(self, **overrides: Any) -> Any:
        """A python-swiftclient Connection (Swift API, tempauth) for this instance."""
        import swiftclient  # noqa: PLC0415

        settings: dict[str, Any] = {"authurl": self.auth_url, "user": self.user, "key": self.key,
                                    "retries": 0}
        settings.update(overrides)
        return swiftclient.Connection(**settings)

    def new_bucket(self) -> str:
        """Create an empty bucket with a name no other test uses."""
        name = f"t-{uuid.uuid4().hex[:16]}"
        self.s3().create_bucket(Bucket=name)
        return name

    def make_public(self, bucket: str) -> None:
        """Let anyone read objects (not list them): Swift container ACL `.r:*`.

        That is what an nginx `proxy_pass` to the Swift API needs; the S3 canned ACL
        `public-read` sets `.r:*,.rlistings` (listing too).
        """
        self.swift().post_container(bucket, headers={"X-Container-Read": ".r:*"})

    def public_url(self, bucket: str, key: str = "") -> str:
        """The anonymous Swift API URL of an object (S3 path-style URLs need a signature)."""
        return f"{self.storage_url}/{bucket}/{key}"


def unavailable_reason() -> str | None:
    """Why Swift cannot run here (not root, packages missing), or None."""
    if os.geteuid() != 0:
        return "the Swift all-in-one runs only as root, as in CI (its servers drop privileges like services)"
    missing = [name for name in EXECUTABLES if not shutil.which(name, path="/usr/bin:/usr/sbin")]
    if missing:
        return f"{missing[0]} is missing: apt-get install {PACKAGES} (scripts/setup-host.sh does)"
    return None


def _swift_aio(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _has_user_xattrs(directory: Path) -> bool:
    probe = directory / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.test", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def start_swift(directory: Path) -> Swift:
    """Start (or find running) the all-in-one in `directory` on a free port.

    Uses an ext4 image when `directory`'s filesystem has no user xattrs (tmpfs).
    """
    directory.mkdir(parents=True, exist_ok=True)
    args = ["start", str(directory), "--port", "0"]
    if not _has_user_xattrs(directory):
        args += ["--loopback-size", "2G"]
    done = _swift_aio(*args)
    if done.returncode != 0:
        raise SwiftStartError(done.stderr.strip() or f"swift_aio.py start exited {done.returncode}")
    return Swift.from_directory(directory)


def stop_swift(directory: Path) -> None:
    """Stop the instance in `directory`; raises when processes are left behind."""
    done = _swift_aio("stop", str(directory), timeout=60)
    if done.returncode != 0:
        raise SwiftStartError(done.stderr.strip())


@pytest.fixture(scope="session")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swift]:
    """The session's Swift all-in-one, started on first use and stopped at the end."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("swift-aio")
    try:
        instance = start_swift(directory)
    except SwiftStartError as error:
        pytest.fail(f"Swift all-in-one did not start: {error}", pytrace=False)
    try:
        yield instance
    finally:
        stop_swift(directory)


@pytest.fixture
def swift_bucket(swift: Swift) -> str:
    """A new, empty bucket (Swift container) for one test."""
    return swift.new_bucket()
