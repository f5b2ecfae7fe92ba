"""`S3Storage` against the real Swift all-in-one: every Storage operation, as the engine uses it.

What the object-store backend adds to the interface's contract: the sha256 kept as object
metadata (so `stat` answers it without a download), the Content-Type of each object, staging
in memory or a temporary file, multipart uploads, aborting the uploads a killed run left, and
keys below a prefix that another mirror's prefix never sees.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from mirror_tool.config import load_config
from mirror_tool.errors import ProjectError
from mirror_tool.storage import open_storage, s3, s3_io
from mirror_tool.storage.s3 import S3Storage
from tests.support.bucket import bucket_mirror, unfinished_uploads
from tests.support.swift import Swift

MiB = 1 << 20


def storage_for(tmp_path: Path, swift: Swift, bucket: str, prefix: str = "m1/", name: str = "mirror") -> S3Storage:
    conf = bucket_mirror(tmp_path, swift, bucket, "http://127.0.0.1:9", prefix=prefix, name=name)
    storage = open_storage(load_config(conf).mirror)
    assert isinstance(storage, S3Storage)
    return storage


def commit(storage: S3Storage, key: str, data: bytes, pieces: int = 3) -> None:
    staged = storage.stage(key, len(data))
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        staged.write(memoryview(data)[start:start + step])
    staged.commit(hashlib.sha256(data).hexdigest())


def test_objects_carry_type_and_sha256_and_stay_below_the_prefix(tmp_path: Path, swift: Swift, swift_bucket: str) -> None:
    one = storage_for(tmp_path, swift, swift_bucket, "one/", "a")
    two = storage_for(tmp_path, swift, swift_bucket, "two/", "b")
    one.prepare()
    page = b"<html>page</html>"
    one.write("simple/demo/index.html", page, "text/html; charset=utf-8")
    wheel = os.urandom(3000)
    commit(one, "packages/aa/bb/cc/demo-1.0-py3-none-any.whl", wheel)

    raw = swift.s3().head_object(Bucket=swift_bucket, Key="one/packages/aa/bb/cc/demo-1.0-py3-none-any.whl")
    assert raw["ContentType"] == "application/octet-stream"
    assert raw["Metadata"]["sha256"] == hashlib.sha256(wheel).hexdigest()
    assert swift.s3().head_object(Bucket=swift_bucket, Key="one/simple/demo/index.html")["ContentType"] == \
        "text/html; charset=utf-8"

    info = one.stat("packages/aa/bb/cc/demo-1.0-py3-none-any.whl")
    assert info is not None and (info.size, info.sha256) == (3000, hashlib.sha256(wheel).hexdigest())
    assert one.read("simple/demo/index.html") == page
    assert one.sha256("packages/aa/bb/cc/demo-1.0-py3-none-any.whl") == hashlib.sha256(wheel).hexdigest()
    assert sorted(i.key for i in one.list("")) == ["packages/aa/bb/cc/demo-1.0-py3-none-any.whl", "simple/demo/index.html"]
    assert [(i.key, i.size) for i in one.list("simple/")] == [("simple/demo/index.html", len(page))]
    # the other mirror's prefix sees nothing of it
    assert list(two.list("")) == [] and two.read("simple/demo/index.html") is None and two.stat("simple/demo/index.html") is None
    assert one.remove("simple/demo/index.html") is True
    assert one.remove("simple/demo/index.html") is False
    assert one.read("simple/demo/index.html") is None and one.open_read("simple/demo/index.html") is None
    with pytest.raises(ValueError):
        one.stat("../escape")


def test_a_large_download_spills_to_a_temporary_file_and_large_objects_go_in_parts(
        tmp_path: Path, swift: Swift, swift_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Smaller thresholds than in production (32 MiB in memory, parts above 256 MiB) keep the test small."""
    monkeypatch.setattr(s3_io, "SPOOL_BYTES", 1 * MiB)
    monkeypatch.setattr(s3, "MULTIPART_BYTES", 6 * MiB)
    monkeypatch.setattr(s3, "PART_BYTES", 5 * MiB)
    storage = storage_for(tmp_path, swift, swift_bucket)
    storage.prepare()
    spilled = os.urandom(3 * MiB)
    commit(storage, "packages/aa/bb/cc/spilled.tar.gz", spilled, pieces=6)
    parts = os.urandom(11 * MiB)
    commit(storage, "packages/aa/bb/cc/parts.tar.gz", parts, pieces=11)
    for key, data in (("packages/aa/bb/cc/spilled.tar.gz", spilled), ("packages/aa/bb/cc/parts.tar.gz", parts)):
        info = storage.stat(key)
        assert info is not None and (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert storage.read(key) == data
    etag = swift.s3().head_object(Bucket=swift_bucket, Key="m1/packages/aa/bb/cc/parts.tar.gz")["ETag"]
    assert etag.strip('"').endswith("-3"), etag  # three parts: 5 + 5 + 1 MiB
    assert list((tmp_path / "mirror" / "tmp").iterdir()) == []  # the temporary file had no name


def test_a_discarded_stage_leaves_nothing(tmp_path: Path, swift: Swift, swift_bucket: str) -> None:
    storage = storage_for(tmp_path, swift, swift_bucket)
    staged = storage.stage("packages/aa/bb/cc/x.whl", 10)
    staged.write(b"0123456789")
    staged.discard()
    assert storage.stat("packages/aa/bb/cc/x.whl") is None


def test_prepare_aborts_the_uploads_a_killed_run_left_below_its_prefix(tmp_path: Path, swift: Swift, swift_bucket: str) -> None:
    client = swift.s3()
    for key in ("m1/packages/aa/bb/cc/half.tar.gz", "other/packages/aa/bb/cc/theirs.tar.gz"):
        upload = client.create_multipart_upload(Bucket=swift_bucket, Key=key)
        client.upload_part(Bucket=swift_bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * (5 * MiB))
    assert sorted(unfinished_uploads(swift, swift_bucket)) == ["m1/packages/aa/bb/cc/half.tar.gz",
                                                               "other/packages/aa/bb/cc/theirs.tar.gz"]
    storage_for(tmp_path, swift, swift_bucket, "m1/").prepare()
    assert unfinished_uploads(swift, swift_bucket) == ["other/packages/aa/bb/cc/theirs.tar.gz"]  # not ours: kept


def test_open_read_serves_a_stored_wheels_metadata(tmp_path: Path, swift: Swift, swift_bucket: str) -> None:
    """zipfile reads the end of the archive and one member: ranged GETs on a large wheel; the wheel a
    thread just committed from memory is read from that memory."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("big/data.bin", os.urandom(2 * MiB))  # stored: no compression
        archive.writestr("demo-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: demo\n")
    wheel = buffer.getvalue()
    storage = storage_for(tmp_path, swift, swift_bucket)
    commit(storage, "packages/aa/bb/cc/demo-1.0-py3-none-any.whl", wheel)
    other = storage_for(tmp_path, swift, swift_bucket, name="reader")  # nothing committed in its memory
    for reader in (storage.open_read("packages/aa/bb/cc/demo-1.0-py3-none-any.whl"),
                   other.open_read("packages/aa/bb/cc/demo-1.0-py3-none-any.whl")):
        assert reader is not None
        with reader, zipfile.ZipFile(reader) as archive:
            assert archive.read("demo-1.0.dist-info/METADATA") == b"Metadata-Version: 2.1\nName: demo\n"


def test_a_key_the_store_refuses_fails_one_object_not_the_run(tmp_path: Path, swift: Swift, swift_bucket: str) -> None:
    storage = storage_for(tmp_path, swift, swift_bucket)
    with pytest.raises(ProjectError, match="refused"):
        storage.write("simple/" + "x" * 1100 + "/index.html", b"page", "text/html; charset=utf-8")
