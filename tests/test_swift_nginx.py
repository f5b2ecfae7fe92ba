"""nginx in front of the Swift all-in-one: what a `proxy_pass` to the bucket needs (issue 17).

nginx cannot sign S3 requests, and s3api refuses unsigned ones. It reads through the Swift API
instead (`/v1/AUTH_<account>/<container>/<key>`) from a container whose read ACL is `.r:*`, and
keeps what it fetched in `proxy_cache`. The role's vhost gains this mode later; this test pins
the pieces on a real nginx and a real Swift. docs/object-store.md explains each directive.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.nginx import NginxServer, start_nginx_vhost
from tests.support.swift import Swift

VHOST = """\
proxy_cache_path {workdir}/cache levels=1:2 keys_zone=objects:1m max_size=64m inactive=7d use_temp_path=off;

upstream objectstore {{
    server {swift_host};
    keepalive 8;
}}

server {{
    listen 127.0.0.1:{port};
    server_name localhost;
    access_log {workdir}/vhost.access.log;
    error_log {workdir}/vhost.error.log info;

    location / {{
        limit_except GET {{ deny all; }}                  # GET and HEAD only; never a write
        proxy_pass http://objectstore{container_path}/;   # path style: /v1/AUTH_<account>/<bucket>/<key>
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Authorization "";               # never forward a client's credentials
        proxy_set_header X-Auth-Token "";
        proxy_hide_header X-Object-Meta-Sha256;
        proxy_cache objects;
        proxy_cache_valid 200 10m;                         # Swift sends no Cache-Control of its own
        proxy_cache_valid 404 1m;
        proxy_cache_revalidate on;                         # If-None-Match / If-Modified-Since on expiry
        proxy_cache_lock on;
        add_header X-Cache-Status $upstream_cache_status always;
    }}
}}
"""

PAGE = b"<!DOCTYPE html><html><body><a href='../../packages/aa/bb/x/demo-1.0+local-py3-none-any.whl'>w</a>"
WHEEL = bytes(range(256)) * 4096


@pytest.fixture
def proxied(swift: Swift, swift_bucket: str, tmp_path: Path) -> Iterator[tuple[NginxServer, str]]:
    """nginx proxying to a public-read bucket holding a page and a wheel; yields (nginx, bucket)."""
    s3 = swift.s3()
    s3.put_object(Bucket=swift_bucket, Key="simple/demo/index.html", Body=PAGE,
                  ContentType="text/html; charset=utf-8", Metadata={"sha256": hashlib.sha256(PAGE).hexdigest()})
    s3.put_object(Bucket=swift_bucket, Key="packages/aa/bb/x/demo-1.0+local-py3-none-any.whl", Body=WHEEL,
                  ContentType="application/octet-stream")
    swift.make_public(swift_bucket)
    storage = urlsplit(swift.public_url(swift_bucket))
    server = start_nginx_vhost(
        lambda port: VHOST.format(port=port, workdir=tmp_path / "nginx", swift_host=storage.netloc,
                                  container_path=storage.path.rstrip("/")),
        tmp_path / "nginx",
    )
    yield server, swift_bucket
    server.stop()


def test_nginx_serves_objects_from_the_bucket_and_caches_them(proxied: tuple[NginxServer, str]) -> None:
    server, _bucket = proxied
    first = requests.get(server.base_url + "/simple/demo/index.html", timeout=30)
    assert first.status_code == 200 and first.content == PAGE
    assert first.headers["Content-Type"] == "text/html; charset=utf-8"
    assert first.headers["X-Cache-Status"] == "MISS"
    assert "X-Object-Meta-Sha256" not in first.headers
    again = requests.get(server.base_url + "/simple/demo/index.html", timeout=30)
    assert (again.status_code, again.content, again.headers["X-Cache-Status"]) == (200, PAGE, "HIT")
    wheel = requests.get(server.base_url + "/packages/aa/bb/x/demo-1.0+local-py3-none-any.whl", timeout=30)
    assert wheel.status_code == 200 and wheel.content == WHEEL
    assert wheel.headers["Content-Type"] == "application/octet-stream"
    head = requests.head(server.base_url + "/packages/aa/bb/x/demo-1.0+local-py3-none-any.whl", timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(WHEEL)


def test_nginx_passes_a_missing_object_as_404(proxied: tuple[NginxServer, str]) -> None:
    server, _bucket = proxied
    assert requests.get(server.base_url + "/simple/absent/index.html", timeout=30).status_code == 404


def test_nginx_refuses_writes_even_with_a_valid_token(proxied: tuple[NginxServer, str], swift: Swift) -> None:
    server, bucket = proxied
    _url, token = swift.swift().get_auth()
    reply = requests.put(server.base_url + "/simple/demo/index.html", data=b"defaced",
                         headers={"X-Auth-Token": token}, timeout=30)
    assert reply.status_code == 403
    assert swift.s3().get_object(Bucket=bucket, Key="simple/demo/index.html")["Body"].read() == PAGE


def test_swift_answers_conditional_gets_for_revalidation(proxied: tuple[NginxServer, str], swift: Swift) -> None:
    """proxy_cache_revalidate works because Swift answers If-None-Match and If-Modified-Since."""
    _server, bucket = proxied
    url = swift.public_url(bucket, "simple/demo/index.html")
    full = requests.get(url, timeout=30)
    assert requests.get(url, headers={"If-None-Match": full.headers["ETag"]}, timeout=30).status_code == 304
    assert requests.get(url, headers={"If-Modified-Since": full.headers["Last-Modified"]}, timeout=30).status_code == 304
