"""What the object-store backend may rely on, proven against the real Swift all-in-one (issue 17).

Each test states one behaviour of Swift 2.30's s3api (Debian 12) as seen through boto3, the
client library the backend will use, and where it matters through the Swift API too
(python-swiftclient), since nginx reads the objects that way. See docs/object-store.md.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import threading
from typing import Any

import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from swiftclient.exceptions import ClientException

from tests.support.swift import Swift

MiB = 1024 * 1024
HTML = "text/html; charset=utf-8"
PEP691 = "application/vnd.pypi.simple.v1+json"
BINARY = "application/octet-stream"


def add_content_md5(params: dict[str, Any], **_: Any) -> None:
    """botocore event handler: the Content-MD5 header older S3 servers require on some calls."""
    params["headers"]["Content-MD5"] = base64.b64encode(hashlib.md5(params["body"]).digest()).decode()


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """(S3 error code, HTTP status) of a boto3 ClientError."""
    response: dict[str, Any] = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def bulk_create(swift: Swift, bucket: str, names: list[str]) -> None:
    """Create many small objects in one request (Swift's bulk middleware, extract-archive)."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = len(name)
            tar.addfile(info, io.BytesIO(name.encode()))
    url, token = swift.swift().get_auth()
    reply = requests.put(
        f"{url}/{bucket}?extract-archive=tar",
        data=archive.getvalue(),
        headers={"X-Auth-Token": token, "Accept": "application/json"},
        timeout=300,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["Number Files Created"] == len(names), reply.text


def test_put_get_head_delete(swift: Swift, swift_bucket: str) -> None:
    s3 = swift.s3()
    body = b"wheel bytes " * 1000
    put = s3.put_object(Bucket=swift_bucket, Key="packages/aa/bb/x/demo-1.0-py3-none-any.whl", Body=body)
    key = "packages/aa/bb/x/demo-1.0-py3-none-any.whl"
    # For a single-part upload the ETag is the MD5 of the bytes, as on AWS.
    assert put["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    assert s3.get_object(Bucket=swift_bucket, Key=key)["Body"].read() == body
    head = s3.head_object(Bucket=swift_bucket, Key=key)
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    assert s3.delete_object(Bucket=swift_bucket, Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=swift_bucket, Key=key)
    assert error_of(missing) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as missing_head:
        s3.head_object(Bucket=swift_bucket, Key=key)
    assert error_of(missing_head) == ("404", 404)  # a HEAD answer has no body, hence no S3 code


def test_deleting_a_missing_key_succeeds(swift: Swift, swift_bucket: str) -> None:
    """Removals can be retried blindly: DeleteObject of an absent key is 204, like AWS."""
    s3 = swift.s3()
    assert s3.delete_object(Bucket=swift_bucket, Key="never/there")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_batch_delete_needs_content_md5(swift: Swift, swift_bucket: str) -> None:
    """s3api insists on Content-MD5 for DeleteObjects; boto3 >= 1.36 sends a CRC32 instead.

    A `before-call` handler that adds the header makes batches work (up to 1000 keys each).
    """
    plain, with_md5 = swift.s3(), swift.s3()
    with_md5.meta.events.register("before-call.s3.DeleteObjects", add_content_md5)
    for name in ("a", "b", "c"):
        plain.put_object(Bucket=swift_bucket, Key=f"old/{name}", Body=b"x")
    batch = {"Objects": [{"Key": f"old/{name}"} for name in "abcz"]}
    with pytest.raises(ClientError) as refused:
        plain.delete_objects(Bucket=swift_bucket, Delete=batch)
    assert error_of(refused) == ("InvalidRequest", 400)
    reply = with_md5.delete_objects(Bucket=swift_bucket, Delete=batch)
    assert sorted(d["Key"] for d in reply["Deleted"]) == ["old/a", "old/b", "old/c", "old/z"]
    assert "Contents" not in plain.list_objects_v2(Bucket=swift_bucket, Prefix="old/")


def test_listing_pages_past_1000_keys_with_a_prefix(swift: Swift, swift_bucket: str) -> None:
    names = [f"packages/{i:05d}.whl" for i in range(1001)] + [f"simple/p{i}/index.html" for i in range(3)]
    bulk_create(swift, swift_bucket, names)
    s3 = swift.s3()
    first = s3.list_objects_v2(Bucket=swift_bucket, Prefix="packages/", MaxKeys=5000)
    # s3api caps a page at 1000 keys (max_bucket_listing) whatever MaxKeys asks.
    assert first["KeyCount"] == 1000 and first["IsTruncated"] is True
    second = s3.list_objects_v2(Bucket=swift_bucket, Prefix="packages/",
                                ContinuationToken=first["NextContinuationToken"])
    assert second["IsTruncated"] is False
    listed = [o["Key"] for page in (first, second) for o in page["Contents"]]
    assert listed == sorted(n for n in names if n.startswith("packages/"))
    paged = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=swift_bucket)
             for o in page.get("Contents", [])]
    assert paged == sorted(names)
    top = s3.list_objects_v2(Bucket=swift_bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["packages/", "simple/"]


def test_listing_gives_size_and_md5_but_not_user_metadata(swift: Swift, swift_bucket: str) -> None:
    """A sha256 kept in metadata needs one HEAD per object: listings carry only size and ETag."""
    s3 = swift.s3()
    body = b"0123456789"
    s3.put_object(Bucket=swift_bucket, Key="packages/f.tar.gz", Body=body,
                  Metadata={"sha256": hashlib.sha256(body).hexdigest()})
    (entry,) = s3.list_objects_v2(Bucket=swift_bucket)["Contents"]
    assert entry["Size"] == len(body)
    assert entry["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    assert "Metadata" not in entry


def test_sha256_metadata_round_trips_between_s3_and_swift_api(swift: Swift, swift_bucket: str) -> None:
    s3, conn = swift.s3(), swift.swift()
    digest = hashlib.sha256(b"payload").hexdigest()
    s3.put_object(Bucket=swift_bucket, Key="a.whl", Body=b"payload", Metadata={"sha256": digest})
    assert s3.head_object(Bucket=swift_bucket, Key="a.whl")["Metadata"] == {"sha256": digest}
    # S3's x-amz-meta-sha256 is Swift's X-Object-Meta-Sha256, both ways.
    assert conn.head_object(swift_bucket, "a.whl")["x-object-meta-sha256"] == digest
    conn.put_object(swift_bucket, "b.whl", b"other", headers={"X-Object-Meta-Sha256": "f" * 64})
    assert s3.head_object(Bucket=swift_bucket, Key="b.whl")["Metadata"] == {"sha256": "f" * 64}


@pytest.mark.parametrize("content_type", [HTML, PEP691, BINARY])
def test_content_type_is_stored_and_returned(swift: Swift, swift_bucket: str, content_type: str) -> None:
    s3 = swift.s3()
    s3.put_object(Bucket=swift_bucket, Key="k", Body=b"{}", ContentType=content_type)
    assert s3.head_object(Bucket=swift_bucket, Key="k")["ContentType"] == content_type
    assert s3.get_object(Bucket=swift_bucket, Key="k")["ContentType"] == content_type
    assert swift.swift().head_object(swift_bucket, "k")["content-type"] == content_type


def test_cache_control_is_stored_and_returned(swift: Swift, swift_bucket: str) -> None:
    """Per-object Cache-Control survives (Swift's default allowed_headers), so nginx can obey it."""
    s3 = swift.s3()
    s3.put_object(Bucket=swift_bucket, Key="p.whl", Body=b"x", CacheControl="max-age=31536000, immutable")
    assert s3.head_object(Bucket=swift_bucket, Key="p.whl")["CacheControl"] == "max-age=31536000, immutable"


def test_overwrite_is_atomic_for_readers(swift: Swift, swift_bucket: str) -> None:
    """A reader racing overwrites of a key gets the whole old or the whole new object, never a mix."""
    versions = {bytes([ord("a") + i]) * (2 * MiB) for i in range(2)}
    ordered = sorted(versions)
    writer_s3, reader_s3 = swift.s3(), swift.s3()
    writer_s3.put_object(Bucket=swift_bucket, Key="simple/index.html", Body=ordered[0])
    seen: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            reply = reader_s3.get_object(Bucket=swift_bucket, Key="simple/index.html")
            body = reply["Body"].read()
            assert reply["ETag"].strip('"') == hashlib.md5(body).hexdigest()
            seen.append(body)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(20):
            writer_s3.put_object(Bucket=swift_bucket, Key="simple/index.html", Body=ordered[round_ % 2])
    finally:
        done.set()
        reader.join()
    assert seen, "the reader never completed a GET"
    assert all(body in versions for body in seen)


def test_multipart_upload_keeps_bytes_type_and_metadata(swift: Swift, swift_bucket: str) -> None:
    s3 = swift.s3()
    data = bytes(range(256)) * (12 * MiB // 256)  # 12 MiB: three parts of 5, 5 and 2 MiB
    chunks = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    digest = hashlib.sha256(data).hexdigest()
    s3.upload_fileobj(io.BytesIO(data), swift_bucket, "packages/big.whl", Config=chunks,
                      ExtraArgs={"ContentType": BINARY, "Metadata": {"sha256": digest}})
    reply = s3.get_object(Bucket=swift_bucket, Key="packages/big.whl")
    assert reply["Body"].read() == data
    assert reply["ETag"].strip('"').endswith("-3")  # a multipart ETag is not the MD5 of the bytes
    assert reply["ContentType"] == BINARY and reply["Metadata"] == {"sha256": digest}
    # The parts live in a companion container; the S3 listing shows the object only.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=swift_bucket)["Contents"]] == ["packages/big.whl"]


def test_multipart_parts_below_5_mib_are_refused(swift: Swift, swift_bucket: str) -> None:
    s3 = swift.s3()
    upload = s3.create_multipart_upload(Bucket=swift_bucket, Key="small-parts")["UploadId"]
    parts = []
    for number in (1, 2):
        etag = s3.upload_part(Bucket=swift_bucket, Key="small-parts", UploadId=upload, PartNumber=number,
                              Body=b"x" * MiB)["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(Bucket=swift_bucket, Key="small-parts", UploadId=upload,
                                     MultipartUpload={"Parts": parts})
    assert error_of(refused) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket=swift_bucket, Key="small-parts", UploadId=upload)


def test_wrong_secret_is_signature_does_not_match(swift: Swift, swift_bucket: str) -> None:
    s3 = swift.s3(aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=swift_bucket, Key="anything")
    assert error_of(denied) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as denied_head:
        s3.head_object(Bucket=swift_bucket, Key="anything")
    assert error_of(denied_head) == ("403", 403)


def test_unknown_access_key_looks_like_a_wrong_secret(swift: Swift, swift_bucket: str) -> None:
    """tempauth does not say which half is wrong (AWS would say InvalidAccessKeyId)."""
    with pytest.raises(ClientError) as denied:
        swift.s3(aws_access_key_id="nobody:none").list_objects_v2(Bucket=swift_bucket)
    assert error_of(denied) == ("SignatureDoesNotMatch", 403)


def test_region_must_match_the_s3api_location(swift: Swift, swift_bucket: str) -> None:
    """A request signed for another region is refused (boto3 recovers only where a body says so)."""
    assert swift.region == "us-east-1"
    with pytest.raises(ClientError) as refused:
        swift.s3(region_name="eu-west-1").head_object(Bucket=swift_bucket, Key="anything")
    assert error_of(refused) == ("400", 400)


def test_swift_api_wrong_key_is_401(swift: Swift) -> None:
    with pytest.raises(ClientException) as denied:
        swift.swift(key="not-the-key").get_account()
    assert denied.value.http_status == 401


def test_anonymous_reads_need_the_swift_api_and_a_read_acl(swift: Swift, swift_bucket: str) -> None:
    """What nginx can proxy to: unsigned S3 URLs are refused, Swift API URLs work once `.r:*` is set."""
    swift.s3().put_object(Bucket=swift_bucket, Key="simple/index.html", Body=b"<html>", ContentType=HTML)
    s3_style = f"{swift.endpoint}/{swift_bucket}/simple/index.html"
    assert requests.get(s3_style, timeout=30).status_code == 400  # not an S3 request, not a Swift path
    assert requests.get(swift.public_url(swift_bucket, "simple/index.html"), timeout=30).status_code == 401
    swift.make_public(swift_bucket)
    reply = requests.get(swift.public_url(swift_bucket, "simple/index.html"), timeout=30)
    assert (reply.status_code, reply.content, reply.headers["Content-Type"]) == (200, b"<html>", HTML)
    assert requests.get(swift.public_url(swift_bucket), timeout=30).status_code == 401  # no listing
    assert requests.get(swift.public_url(swift_bucket, "missing"), timeout=30).status_code == 404


def test_s3_canned_public_read_acl_also_allows_listing(swift: Swift, swift_bucket: str) -> None:
    swift.s3().put_bucket_acl(Bucket=swift_bucket, ACL="public-read")
    assert swift.swift().head_container(swift_bucket)["x-container-read"] == ".r:*,.rlistings"
    assert requests.get(swift.public_url(swift_bucket), timeout=30).status_code in (200, 204)


def test_conditional_put_is_not_implemented(swift: Swift, swift_bucket: str) -> None:
    """No create-if-absent (`If-None-Match: *`): a lock cannot be an object (bandersnatch's S3 lock is)."""
    s3 = swift.s3()
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=swift_bucket, Key=".lock", Body=b"", IfNoneMatch="*")
    assert error_of(refused) == ("NotImplemented", 501)
    assert "Contents" not in s3.list_objects_v2(Bucket=swift_bucket)
