"""The role's vhost in object-store mode: real nginx in front of the real Swift, the real pip.

One upstream is mirrored twice, onto disk and into a bucket; the role's vhost serves each (the
same template, `pypi_mirror_storage_backend` filesystem or s3). Every URL a client uses answers
the same through both (status, body, Content-Type, Cache-Control, PEP 691 negotiation), pip
downloads and installs through the bucket exactly as from disk, and nginx's cache keeps files
while it revalidates pages after `pypi_mirror_nginx_cache_pages_valid` seconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from mirror_tool.exitcodes import ExitCode
from tests.support.bucket import bucket_mirror
from tests.support.mirror_env import run_cli, write_config
from tests.support.nginx import nginx_factory  # noqa: F401  (pytest fixture)
from tests.support.swift import Swift
from tests.test_mirror_pip import pip

JSON, V1_HTML = "application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.v1+html"
ACCEPTS = ("", "text/html", V1_HTML, JSON, f"{JSON}, {V1_HTML}; q=0.1, text/html; q=0.01")


def synced(conf: Path) -> None:
    done = run_cli("-c", str(conf), "mirror", timeout=300)
    assert done.returncode == ExitCode.OK, done.stderr[-2000:]


def until_not_a_hit(url: str) -> requests.Response:
    """GET `url` until nginx no longer answers from its cached copy as is (the copy expired and
    was refetched or revalidated); a HIT for a minute is returned as it is, for the caller to fail on."""
    deadline = time.monotonic() + 60
    while True:
        got = requests.get(url, timeout=10)
        if got.headers["X-Cache-Status"] != "HIT" or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_the_bucket_serves_through_nginx_as_the_disk_does(tmp_path: Path, swift: Swift, swift_bucket: str, fakepypi,
                                                         nginx_factory: Any) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fp = fakepypi
    on_disk = write_config(tmp_path / "disk.conf", tmp_path / "disk", fp.base_url, json=True)
    in_bucket = bucket_mirror(tmp_path, swift, swift_bucket, fp.base_url, prefix="eu/", json=True)
    synced(on_disk)
    synced(in_bucket)
    swift.make_public(swift_bucket)
    disk = nginx_factory(tmp_path / "disk" / "web")
    bucket = nginx_factory(tmp_path / "mirror" / "web", tmp_path / "nginx-bucket",
                           pypi_mirror_storage_backend="s3", pypi_mirror_object_store_prefix="eu/",
                           pypi_mirror_object_store_public_url=swift.public_url(swift_bucket).rstrip("/"),
                           pypi_mirror_nginx_cache_dir=str(tmp_path / "nginx-bucket" / "cache"),
                           pypi_mirror_nginx_cache_pages_valid=1)
    assert not (tmp_path / "mirror" / "web").exists()

    page = requests.get(disk.base_url + "/simple/foo-bar/", headers={"Accept": JSON}, timeout=10).json()
    wheel = next(f["url"] for f in page["files"] if f["filename"].endswith(".whl"))
    file_path = "/" + wheel.split("../../", 1)[1]
    paths = ["/simple/", "/simple/foo-bar/", "/simple/empty-project/", "/simple/absent/", "/pypi/foo-bar/json",
             file_path, file_path + ".metadata"]
    for path in paths:
        for accept in ACCEPTS if path.startswith("/simple/") else ("",):
            headers = {"Accept": accept} if accept else {}
            want = requests.get(disk.base_url + path, headers=headers, timeout=10)
            got = requests.get(bucket.base_url + path, headers=headers, timeout=10)
            where = f"{path} (Accept: {accept or '-'})"
            assert got.status_code == want.status_code, where
            if want.status_code != 200:
                continue
            assert got.content == want.content, where
            for header in ("Content-Type", "Cache-Control", "Vary"):
                assert got.headers.get(header, "").lower() == want.headers.get(header, "").lower(), (where, header)
    for path in ("/changes/head.json", "/changes/segments.json"):  # the journal replicas follow, never cached
        for _ in range(2):
            got = requests.get(bucket.base_url + path, timeout=10)
            assert got.status_code == 200 and got.json(), path
            assert got.headers["Content-Type"] == "application/json" and got.headers["Cache-Control"] == "no-cache"
            assert got.content == swift.s3().get_object(Bucket=swift_bucket, Key="eu/" + path[1:])["Body"].read()
            assert "X-Cache-Status" not in got.headers, path
    short = requests.get(bucket.base_url + "/simple/foo-bar", allow_redirects=False, timeout=10)
    assert (short.status_code, short.headers["Location"]) == (301, "/simple/foo-bar/")
    assert requests.get(bucket.base_url + "/status", timeout=10).status_code == 404
    assert requests.put(bucket.base_url + "/simple/foo-bar/index.html", data=b"x", timeout=10).status_code == 403

    # pip through the bucket, as from disk
    index = bucket.base_url + "/simple/"
    dl = tmp_path / "dl"
    res = pip(index, "download", "--no-deps", "--only-binary", ":all:", "-d", str(dl), "Foo.Bar", "Yanked-Pkg", "Needs_Py")
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(p.name for p in dl.iterdir()) == [
        "foo_bar-1.2.0-py3-none-any.whl", "needs_py-1.2.0-py3-none-any.whl", "yanked_pkg-1.2.0-py3-none-any.whl"]
    target = tmp_path / "target"
    res = pip(index, "install", "--no-deps", "--target", str(target), "foo_bar_baz", "Pre.Release")
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(p.name for p in target.glob("*.dist-info")) == ["foo_bar_baz-1.2.0.dist-info", "pre_release-1.2.0.dist-info"]

    # the cache: files stay, pages are revalidated once pages_valid (1 s here) has passed
    assert requests.get(bucket.base_url + file_path, timeout=10).headers["X-Cache-Status"] == "HIT"
    fp.upload("Foo.Bar", "3.0")
    synced(in_bucket)
    fresh = until_not_a_hit(bucket.base_url + "/simple/foo-bar/")
    assert fresh.headers["X-Cache-Status"] == "EXPIRED" and "foo_bar-3.0-py3-none-any.whl" in fresh.text
    unchanged = requests.get(bucket.base_url + "/simple/pre-release/", timeout=10)
    again = until_not_a_hit(bucket.base_url + "/simple/pre-release/")
    assert again.headers["X-Cache-Status"] == "REVALIDATED" and again.content == unchanged.content
    assert requests.get(bucket.base_url + file_path, timeout=10).headers["X-Cache-Status"] == "HIT"
    res = pip(index, "download", "--no-deps", "-d", str(tmp_path / "dl2"), "foo.bar")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "dl2" / "foo_bar-3.0-py3-none-any.whl").exists()


def test_hash_index_pages_in_the_bucket_answer_at_the_usual_urls(tmp_path: Path, swift: Swift, swift_bucket: str,
                                                                 fakepypi, nginx_factory: Any) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """`hash-index = true` keeps pages at simple/<c>/<name>/ in the bucket; the vhost's rewrite
    maps the URL clients ask for onto that key, for both page formats."""
    conf = bucket_mirror(tmp_path, swift, swift_bucket, fakepypi.base_url, prefix="h/", hash_index=True)
    synced(conf)
    swift.make_public(swift_bucket)
    assert swift.s3().head_object(Bucket=swift_bucket, Key="h/simple/f/foo-bar/index.html")
    bucket = nginx_factory(tmp_path / "mirror" / "web", tmp_path / "nginx-hashed",
                           pypi_mirror_storage_backend="s3", pypi_mirror_object_store_prefix="h/",
                           pypi_mirror_object_store_public_url=swift.public_url(swift_bucket).rstrip("/"),
                           pypi_mirror_nginx_cache_dir=str(tmp_path / "nginx-hashed" / "cache"),
                           pypi_mirror_hash_index=True)
    html = requests.get(bucket.base_url + "/simple/foo-bar/", timeout=10)
    assert html.status_code == 200 and "foo_bar-1.2.0-py3-none-any.whl" in html.text
    assert html.headers["Content-Type"].startswith("text/html")
    as_json = requests.get(bucket.base_url + "/simple/foo-bar/", headers={"Accept": JSON}, timeout=10)
    assert as_json.headers["Content-Type"] == JSON
    assert any(f["filename"] == "foo_bar-1.2.0-py3-none-any.whl" for f in as_json.json()["files"])
    assert requests.get(bucket.base_url + "/simple/", timeout=10).status_code == 200
