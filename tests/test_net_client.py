"""The net client against the fake upstream: documents, redirects, downloads, retries, PURGE, XML-RPC."""

from __future__ import annotations

import hashlib
import xmlrpc.client
from typing import Any

import pytest

from mirror_tool.errors import IntegrityError, RetryableError
from mirror_tool.net import (
    BufferSink,
    Client,
    DownloadJob,
    HTTPStatusError,
    HttpSettings,
    RetryPolicy,
    TransportError,
)
from tests.fakepypi.server import FakePyPI

FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_max=0.02)


def client_for(upstream: FakePyPI, **fields: Any) -> Client:
    fields.setdefault("retry", FAST)
    return Client(HttpSettings.build(upstream.base_url, environ={}, **fields))


def files_of(upstream: FakePyPI, name: str) -> list[dict]:
    info = upstream.project(name)
    assert info is not None
    return [f for rel in info["releases"].values() for f in rel["files"]]


def test_document_follows_a_redirect_on_the_upstream_and_reports_it(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    page = client.get(f"{fakepypi.base_url}/pypi/Foo.Bar/json", headers={"Accept": "application/json"})
    assert page.status == 200
    assert page.url == f"{fakepypi.base_url}/pypi/foo-bar/json"
    assert page.redirects == [page.url]
    assert b'"releases"' in page.body
    assert int(page.header("X-PyPI-Last-Serial") or -1) == fakepypi.project("Foo.Bar")["last_serial"]  # type: ignore[index]


def test_a_404_is_returned_to_the_caller_not_retried(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    fakepypi.clear_log()
    assert client.get(f"{fakepypi.base_url}/pypi/no-such-project/json").status == 404
    assert len(fakepypi.requests()) == 1


def test_download_many_streams_every_file_into_its_sink(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    files = files_of(fakepypi, "Plat_Wheels")
    jobs = [DownloadJob(f["url"], BufferSink(), f["size"]) for f in files]
    results = client.download_many(jobs, concurrency=3)
    assert len(results) == len(files) >= 4
    for job, f, result in zip(jobs, files, results):
        assert not isinstance(result, BaseException), result
        assert result.size == f["size"]
        assert hashlib.sha256(job.sink.getvalue()).hexdigest() == f["sha256"]  # type: ignore[attr-defined]


def test_5xx_is_retried_then_succeeds(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    f = files_of(fakepypi, "Foo.Bar")[0]
    fakepypi.add_fault("status", path=f["path"], status=503, count=2)
    sink = BufferSink()
    assert client.download(f["url"], sink, expected_size=f["size"]).size == f["size"]
    statuses = [r["status"] for r in fakepypi.requests() if r["path"] == f["path"]]
    assert statuses == [503, 503, 200]
    assert hashlib.sha256(sink.getvalue()).hexdigest() == f["sha256"]


def test_5xx_outlasting_the_retries_is_one_error_naming_the_tries(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    fakepypi.add_fault("status", prefix="/pypi/", status=502)
    with pytest.raises(HTTPStatusError) as err:
        client.get(f"{fakepypi.base_url}/pypi/foo-bar/json")
    assert err.value.status == 502
    assert isinstance(err.value, RetryableError)
    assert "HTTP 502" in str(err.value) and "after 3 tries" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_body_cut_mid_way_is_retried_on_a_fresh_connection(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    f = files_of(fakepypi, "Foo.Bar")[1]
    fakepypi.add_fault("cut", path=f["path"], count=1)
    sink = BufferSink()
    client.download(f["url"], sink, expected_size=f["size"])
    assert hashlib.sha256(sink.getvalue()).hexdigest() == f["sha256"]
    assert len([r for r in fakepypi.requests() if r["path"] == f["path"]]) == 2


def test_failed_verification_fetches_again_and_gives_up_after_the_tries(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    f = files_of(fakepypi, "Foo.Bar")[2]
    fakepypi.add_fault("bad_hash", path=f["path"])
    sink = BufferSink()

    def verify() -> None:
        if hashlib.sha256(sink.getvalue()).hexdigest() != f["sha256"]:
            raise IntegrityError(f"{f['url']}: sha256 mismatch")

    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        client.download(f["url"], sink, expected_size=f["size"], verify=verify)
    assert len([r for r in fakepypi.requests() if r["path"] == f["path"]]) == 3


def test_a_refused_connection_is_a_transport_error(fakepypi: FakePyPI) -> None:
    base = fakepypi.base_url
    fakepypi.stop()
    client = Client(HttpSettings.build(base, environ={}, retry=FAST))
    with pytest.raises(TransportError) as err:
        client.get(f"{base}/simple/")
    assert base.split("//")[1] in str(err.value) and "\n" not in str(err.value)


def test_purge_is_an_arbitrary_method_with_its_headers(fakepypi: FakePyPI) -> None:
    fakepypi.set_purge_mode("auth", "sekrit")
    client = client_for(fakepypi)
    url = f"{fakepypi.base_url}/simple/foo-bar/"
    assert client.request("PURGE", url).status == 401
    assert client.request("PURGE", url, headers={"Fastly-Key": "sekrit"}).status == 200
    assert [p["key_sent"] for p in fakepypi.purges()] == [False, True]


def test_xmlrpc_post(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    body = xmlrpc.client.dumps((), "changelog_last_serial").encode()
    answer = client.request("POST", f"{fakepypi.base_url}/pypi", body=body, headers={"Content-Type": "text/xml"})
    assert answer.status == 200
    assert xmlrpc.client.loads(answer.body)[0][0] == fakepypi.last_serial


def test_one_client_serves_threads_and_forked_workers(fakepypi: FakePyPI) -> None:
    """The parent's handles stay the parent's: a forked child and threads each get their own."""
    import multiprocessing
    import threading

    client = client_for(fakepypi)
    url = f"{fakepypi.base_url}/pypi/foo-bar/json"
    assert client.get(url).status == 200  # the parent now holds a connection
    global _FORKED
    _FORKED = (client, url)  # inherited by the forked workers, as workers.py hands them its state
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        statuses = pool.map(_status_in_child, range(4))
    assert statuses == [200] * 4
    seen: list[int] = []
    threads = [threading.Thread(target=lambda: seen.append(client.get(url).status)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [200] * 4 and client.get(url).status == 200


_FORKED: tuple[Client, str] | None = None


def _status_in_child(_: int) -> int:
    assert _FORKED is not None
    client, url = _FORKED
    return client.get(url).status


def test_get_many_fetches_documents_at_once_in_order(fakepypi: FakePyPI) -> None:
    client = client_for(fakepypi)
    names = ["foo-bar", "no-such-project", "pre-release", "plat-wheels"]
    pages = client.get_many([f"{fakepypi.base_url}/pypi/{n}/json" for n in names], concurrency=3)
    assert [getattr(p, "status", p) for p in pages] == [200, 404, 200, 200]
    assert [p.url.rsplit("/", 2)[1] for p in pages] == names  # type: ignore[union-attr]
