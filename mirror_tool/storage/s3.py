"""`S3Storage`: the tree as objects in a bucket, over the S3 API (boto3).

Same keys as on disk (`simple/...`, `packages/...`, `pypi/<p>/json`, `last-modified`), below an
optional prefix, so several mirrors can share a bucket. Each object carries its Content-Type
(nginx passes it on: HTML pages, PEP 691 JSON, files as octet-stream) and its sha256 as user
metadata (`x-amz-meta-sha256`, Swift's `X-Object-Meta-Sha256`), so `stat` answers a hash and a
sync or `verify` needs no download to compare a file (docs/object-store.md lists the store
behaviours relied on here, each one tested against Swift).

Durability and order: a PUT or DELETE returns once the store holds the change, and a reader sees
the whole old or the whole new object, so `write` is atomic and `flush` has nothing left to do;
the publisher's order (files, pages, root index, then removals) is kept by issuing them in that
order. A killed run leaves at most an unfinished multipart upload (aborted by the next `prepare`)
and objects no page lists yet (the next run publishes or reclaims them).

Errors: refused credentials (HTTP 403, SignatureDoesNotMatch, InvalidAccessKeyId, ...) raise
`CredentialsError` (exit 9); a store that does not answer, answers 5xx after botocore's retries,
or lacks the bucket raises `StorageError` (exit 7); any other refusal of one object is a
`ProjectError` (that project fails, the run goes on).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

from mirror_tool.errors import CredentialsError, MirrorError, ProjectError, StorageError
from mirror_tool.storage import keys
from mirror_tool.storage.base import ObjectInfo, Staged, Storage
from mirror_tool.storage.credentials import Credentials, read_credentials
from mirror_tool.storage.s3_io import (
    MULTIPART_BYTES,
    PART_BYTES,
    PART_THREADS,
    WHOLE_READ_BYTES,
    RangedReader,
    Recent,
    S3Staged,
)

if TYPE_CHECKING:
    from mirror_tool.config.settings import MirrorSettings, ObjectStoreSettings

FILE_TYPE = "application/octet-stream"
CHUNK = 1 << 20
#: S3 error codes that mean "these credentials are not accepted" (HEAD answers carry only 403).
CREDENTIAL_CODES = frozenset({"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken",
                              "ExpiredToken", "InvalidSecurity", "AuthorizationHeaderMalformed", "403"})
#: Codes of a store that is there but not well right now (after botocore's own retries).
SERVER_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500"})
#: Requests the publisher may have in flight at once (measured: 100 small PUTs to the Swift
#: all-in-one took 3.3 s one at a time, 1.4 s on 8 threads, no better on 16).
WRITE_CONCURRENCY = 8


class S3Storage(Storage):
    """Objects `<prefix><key>` in `bucket`; large downloads are staged in `tmp`."""

    write_concurrency = WRITE_CONCURRENCY

    def __init__(self, store: "ObjectStoreSettings", credentials: Credentials, tmp: Path, connections: int) -> None:
        self.store = store
        self.bucket = store.bucket
        self.prefix = store.prefix
        self.tmp = Path(tmp)
        self._credentials = credentials
        self._connections = connections
        self._client: Any = None
        self._client_pid = 0
        self._recent = Recent()
        self.where = f"{store.endpoint or 'AWS S3'} bucket {store.bucket}"
        if store.prefix:
            self.where += f" prefix {store.prefix}"

    @classmethod
    def open(cls, settings: "MirrorSettings") -> "S3Storage":
        """The store `[object-store]` names, its credentials read and accepted (one HEAD of the
        bucket): a run with a wrong secret or a missing bucket stops before it does anything."""
        store = settings.object_store
        assert store is not None
        storage = cls(store, read_credentials(store.credentials_file), settings.directory / "tmp",
                      connections=max(2 * settings.workers, WRITE_CONCURRENCY) + 4)
        storage.check_access()
        return storage

    # -- the client ----------------------------------------------------------------------------
    def _s3(self) -> Any:
        """The boto3 client of this process (a forked worker makes its own: connections and
        their locks must not be shared across a fork)."""
        if self._client is None or self._client_pid != os.getpid():
            import boto3  # only an object-store run pays for importing it
            from botocore.config import Config

            config = Config(
                s3={"addressing_style": self.store.addressing_style},
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=10,
                read_timeout=120,
                max_pool_connections=self._connections,
            )
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.store.endpoint or None,
                region_name=self.store.region,
                aws_access_key_id=self._credentials.access_key,
                aws_secret_access_key=self._credentials.secret_key,
                config=config,
            )
            self._client_pid = os.getpid()
        return self._client

    def full_key(self, key: str) -> str:
        if not keys.is_safe(key):
            raise ValueError(f"unsafe storage key {key!r}")
        return self.prefix + key

    def _error(self, exc: Exception, key: str, verb: str) -> MirrorError:
        """The mirror error for a failed request about `key` (see the module docstring)."""
        from botocore.exceptions import ClientError

        what = f"{verb} {key} in {self.where}" if key else f"{verb} {self.where}"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            detail = f"{code or status}" + (f": {error['Message']}" if error.get("Message") else "")
            if code in CREDENTIAL_CODES or status == 403:
                return CredentialsError(f"object store refused the credentials of {self._credentials.source} "
                                        f"({detail}) to {what}: check the access key and secret")
            if code == "NoSuchBucket":
                return StorageError(f"bucket {self.bucket} does not exist at {self.store.endpoint or 'AWS S3'}: "
                                    "create it first")
            if status >= 500 or code in SERVER_CODES:
                return StorageError(f"object store failed to {what}: {detail}")
            return ProjectError(f"object store refused to {what}: {detail}")
        return StorageError(f"object store unreachable: cannot {what}: {exc}")

    def _call(self, verb: str, key: str, method: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._s3(), method)(Bucket=self.bucket, **params)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key, verb) from None

    @staticmethod
    def _absent(exc: Exception) -> bool:
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            return False
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return code in ("NoSuchKey", "404", "NotFound")

    def check_access(self) -> None:
        """One HEAD of the bucket: credentials, region and the bucket's existence."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3().head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(f"bucket {self.bucket} does not exist at {self.store.endpoint or 'AWS S3'}: "
                                   "create it first") from None
            if code == "400":
                raise StorageError(f"object store answered 400 to HEAD of bucket {self.bucket}: a wrong "
                                   f"[object-store] region ({self.store.region}) gives this") from None
            raise self._error(exc, "", "open") from None
        except BotoCoreError as exc:
            raise self._error(exc, "", "open") from None

    # -- writing -------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Abort multipart uploads a killed run left below our prefix (their parts cost space)."""
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from mirror_tool.storage.atomic import os_error

            raise os_error(exc, str(self.tmp), whole_run=True) from exc
        params: dict[str, Any] = {"Prefix": self.prefix} if self.prefix else {}
        while True:
            page = self._call("list uploads", self.prefix, "list_multipart_uploads", **params)
            for upload in page.get("Uploads", []):
                self._call("abort upload", upload["Key"], "abort_multipart_upload",
                           Key=upload["Key"], UploadId=upload["UploadId"])
            if not page.get("IsTruncated"):
                return
            params.update(KeyMarker=page.get("NextKeyMarker", ""), UploadIdMarker=page.get("NextUploadIdMarker", ""))

    def stage(self, key: str, size: int | None) -> Staged:
        full = self.full_key(key)

        def upload(body: Any, length: int, sha256: str) -> None:
            extra = {"ContentType": FILE_TYPE, "Metadata": {"sha256": sha256}}
            if length <= MULTIPART_BYTES:
                self._call("store", key, "put_object", Key=full, Body=body, **extra)
                return
            from boto3.s3.transfer import TransferConfig
            from botocore.exceptions import BotoCoreError, ClientError

            config = TransferConfig(multipart_threshold=MULTIPART_BYTES, multipart_chunksize=PART_BYTES,
                                    max_concurrency=PART_THREADS)
            try:
                self._s3().upload_fileobj(body, self.bucket, full, ExtraArgs=extra, Config=config)
            except (BotoCoreError, ClientError) as exc:
                raise self._error(exc, key, "store") from None

        return S3Staged(upload, self.tmp, self._recent, full)

    def write(self, key: str, data: bytes, content_type: str) -> None:
        self._call("write", key, "put_object", Key=self.full_key(key), Body=data, ContentType=content_type,
                   Metadata={"sha256": hashlib.sha256(data).hexdigest()})

    def remove(self, key: str) -> bool:
        """DELETE answers 204 whether or not the object existed: a HEAD first tells which."""
        if self.stat(key) is None:
            return False
        self._call("delete", key, "delete_object", Key=self.full_key(key))
        return True

    def flush(self) -> None:
        """Nothing to wait for: every request returned after the store made it durable."""

    # -- reading -------------------------------------------------------------------------------
    def _get(self, key: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._s3().get_object(Bucket=self.bucket, Key=self.full_key(key), **params)
        except (BotoCoreError, ClientError) as exc:
            if self._absent(exc):
                return None
            raise self._error(exc, key, "read") from None

    def read(self, key: str) -> bytes | None:
        answer = self._get(key)
        if answer is None:
            return None
        body = answer["Body"]
        try:
            return body.read()
        except Exception as exc:  # noqa: BLE001 - a cut stream (urllib3/botocore errors)
            raise StorageError(f"object store unreachable: cannot read {key} in {self.where}: {exc}") from None
        finally:
            body.close()

    def open_read(self, key: str) -> BinaryIO | None:
        full = self.full_key(key)
        if self._recent.key == full:
            data, self._recent.key, self._recent.data = self._recent.data, "", b""
            return io.BytesIO(data)
        info = self.stat(key)
        if info is None:
            return None
        if info.size <= WHOLE_READ_BYTES:
            data = self.read(key)
            return io.BytesIO(data) if data is not None else None

        def fetch(start: int, end: int) -> bytes:
            answer = self._get(key, Range=f"bytes={start}-{end}")
            if answer is None:
                raise OSError(f"{key} disappeared while being read")
            body = answer["Body"]
            try:
                return body.read()
            finally:
                body.close()

        return io.BufferedReader(RangedReader(fetch, info.size))  # type: ignore[return-value]

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self._s3().head_object(Bucket=self.bucket, Key=self.full_key(key))
        except (BotoCoreError, ClientError) as exc:
            if self._absent(exc):
                return None
            raise self._error(exc, key, "stat") from None
        sha = (head.get("Metadata") or {}).get("sha256")
        return ObjectInfo(key, int(head["ContentLength"]), sha.lower() if sha else None)

    def sha256(self, key: str) -> str | None:
        """Hash the object's bytes as they stream in (deep verify; nothing is kept)."""
        answer = self._get(key)
        if answer is None:
            return None
        digest = hashlib.sha256()
        body = answer["Body"]
        try:
            for chunk in body.iter_chunks(CHUNK):
                digest.update(chunk)
        except Exception as exc:  # noqa: BLE001 - a cut stream
            raise StorageError(f"object store unreachable: cannot read {key} in {self.where}: {exc}") from None
        finally:
            body.close()
        return digest.hexdigest()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """ListObjectsV2 pages (1000 keys each); sizes only, listings carry no metadata."""
        full = self.prefix + prefix
        params: dict[str, Any] = {"Prefix": full}
        skip = len(self.prefix)
        while True:
            page = self._call("list", prefix, "list_objects_v2", **params)
            for item in page.get("Contents", []):
                yield ObjectInfo(item["Key"][skip:], int(item["Size"]))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            params["ContinuationToken"] = token


__all__ = ["S3Storage"]
