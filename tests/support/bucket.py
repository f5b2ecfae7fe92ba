"""A mirror whose tree lives in a bucket of the test Swift, and the checks of such a tree.

`bucket_mirror(...)` writes the config of a mirror with `storage-backend = s3` (its own bucket
and prefix in the session's Swift, the credentials file swift_aio.py wrote). `snapshot(...)`
copies the prefix's objects into `<dest>/web/` and checks, object by object, what only an
object store has: the sha256 kept as metadata equals the bytes' hash, and each kind of object
carries its Content-Type. The copy is then judged by the same invariant checks as a tree on
disk (tests/support/tree_check.py), so both backends answer to one definition of consistency.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
from pathlib import Path
from typing import Any

from tests.support.mirror_env import write_config
from tests.support.swift import Swift
from tests.support.tree_check import read_root_indexes

CONTENT_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "index.v1_html": "application/vnd.pypi.simple.v1+html; charset=utf-8",
    "index.v1_json": "application/vnd.pypi.simple.v1+json",
}


def object_store_section(swift: Swift, bucket: str, prefix: str = "", credentials: Path | None = None) -> str:
    """The `[object-store]` section for `bucket` in the test Swift."""
    return (
        "[object-store]\n"
        f"endpoint = {swift.endpoint}\n"
        f"bucket = {bucket}\n"
        f"prefix = {prefix}\n"
        f"region = {swift.region}\n"
        f"credentials-file = {credentials or swift.credentials_file}\n"
    )


def bucket_mirror(tmp_path: Path, swift: Swift, bucket: str, master: str, *, prefix: str = "m1/",
                  name: str = "mirror", credentials: Path | None = None, **mirror: Any) -> Path:
    """Write `<tmp_path>/<name>.conf` for a mirror of `master` into `bucket`/`prefix`; its path."""
    return write_config(tmp_path / f"{name}.conf", tmp_path / name, master, storage_backend="s3",
                        extra=object_store_section(swift, bucket, prefix, credentials), **mirror)


def bucket_keys(swift: Swift, bucket: str, prefix: str = "") -> dict[str, int]:
    """key (below `prefix`) -> size of every object below `prefix`."""
    s3 = swift.s3()
    out: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"][len(prefix):]] = int(item["Size"])
    return out


def expected_type(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if key.startswith("simple/"):
        return CONTENT_TYPES[name]
    if key.startswith("packages/"):
        return "application/octet-stream"
    if key.startswith(("pypi/", "json/")):
        return "application/json"
    if key.startswith("changes/"):  # the change journal replicas follow
        return "application/json" if key.endswith(".json") else "text/plain; charset=utf-8"
    if key == "last-modified":
        return "text/plain; charset=utf-8"
    raise AssertionError(f"unexpected object {key}")


def _copy(s3: Any, bucket: str, prefix: str, web: Path, key: str) -> bool:
    """Copy one object into `web/<key>` after checking its sha256 and Content-Type; False when absent."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=prefix + key)
    except s3.exceptions.NoSuchKey:
        return False
    data = answer["Body"].read()
    assert answer["Metadata"].get("sha256") == hashlib.sha256(data).hexdigest(), f"{key}: stored sha256 is wrong"
    assert answer["ContentType"] == expected_type(key), f"{key}: Content-Type {answer['ContentType']}"
    path = web / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _named_keys(web: Path) -> set[str]:
    """Every key the copied pages name: the root indexes' project pages, and the files (and their
    `.metadata`) each copied JSON page links to (relative links, as the tests' mirrors write)."""
    out: set[str] = set()
    for listed in read_root_indexes(web).values():
        out |= {f"simple/{norm}/{page}" for norm in listed for page in CONTENT_TYPES}
    for page in (web / "simple").glob("*/index.v1_json"):
        base = f"simple/{page.parent.name}/"
        for f in json.loads(page.read_bytes())["files"]:
            key = posixpath.normpath(posixpath.join(base, f["url"].split("#", 1)[0]))
            out |= {key, key + ".metadata"}
    return out


def snapshot(swift: Swift, bucket: str, prefix: str, dest: Path, *, status_from: Path | None = None) -> Path:
    """Copy every object below `prefix` into `dest/web/<key>` (checking each object's stored
    sha256 and Content-Type) and `status` from `status_from`; returns `dest` for tree_check.

    Swift updates a bucket's listing after the PUT has returned (at once when idle; under load
    the container update may wait for the object-updater), so a listing may miss an object that
    exists. Every object the copied pages name is therefore also asked for by its key, until
    no page names one more: the copy holds what a client could GET, not what a listing shows.
    """
    s3 = swift.s3()
    shutil.rmtree(dest, ignore_errors=True)
    web = dest / "web"
    web.mkdir(parents=True)
    seen: set[str] = set()
    for key in bucket_keys(swift, bucket, prefix):
        seen.add(key)
        _copy(s3, bucket, prefix, web, key)
    while (unseen := _named_keys(web) - seen):
        for key in unseen:
            seen.add(key)
            _copy(s3, bucket, prefix, web, key)
    if status_from is not None and (status_from / "status").exists():
        shutil.copyfile(status_from / "status", dest / "status")
    return dest


def unfinished_uploads(swift: Swift, bucket: str, prefix: str = "") -> list[str]:
    """Keys of multipart uploads started below `prefix` and never completed or aborted."""
    answer = swift.s3().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


__all__ = ["bucket_keys", "bucket_mirror", "object_store_section", "snapshot", "unfinished_uploads"]
