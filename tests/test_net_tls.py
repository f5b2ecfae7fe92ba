"""TLS with a locally generated CA: one trust store, verification always on, one clear line per refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from mirror_tool.net import Client, HttpSettings, RetryPolicy, TLSError
from tests.support.hostile_upstream import HostileUpstream
from tests.support.tls_ca import TestCA

ONCE = RetryPolicy(attempts=1)


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "ca")


def https_upstream(ca: TestCA, hosts: list[str]) -> HostileUpstream:
    cert = ca.issue("server-" + "-".join(hosts), hosts)
    server = HostileUpstream(tls=cert.context()).start()
    server.ok("/simple/", b"<html>index</html>", {"Content-Type": "text/html"})
    return server


@pytest.fixture
def good(ca: TestCA) -> Iterator[HostileUpstream]:
    server = https_upstream(ca, ["127.0.0.1", "localhost"])
    yield server
    server.stop()


def test_private_ca_in_ca_bundle_is_trusted(good: HostileUpstream, ca: TestCA) -> None:
    client = Client(HttpSettings.build(good.url(""), environ={}, ca_bundle=str(ca.pem), retry=ONCE))
    page = client.get(good.url("/simple/"))
    assert page.status == 200 and page.body == b"<html>index</html>"


def test_unknown_ca_is_refused_with_one_line_naming_ca_bundle(good: HostileUpstream) -> None:
    client = Client(HttpSettings.build(good.url(""), environ={}, retry=ONCE))  # the system trust store
    with pytest.raises(TLSError) as err:
        client.get(good.url("/simple/"))
    text = str(err.value)
    assert "not signed by a CA in the system trust store" in text and "ca-bundle" in text
    assert f"127.0.0.1:{good.port}" in text and "\n" not in text
    assert good.seen == []  # no request went over an untrusted connection


def test_wrong_host_name_is_refused_with_one_line(ca: TestCA) -> None:
    server = https_upstream(ca, ["mirror.example.test"])
    try:
        client = Client(HttpSettings.build(server.url(""), environ={}, ca_bundle=str(ca.pem), retry=ONCE))
        with pytest.raises(TLSError) as err:
            client.get(server.url("/simple/"))
        assert "is not valid for that host name" in str(err.value) and "\n" not in str(err.value)
        assert server.seen == []
    finally:
        server.stop()


def test_another_ca_in_ca_bundle_replaces_the_system_store(good: HostileUpstream, tmp_path: Path) -> None:
    other = TestCA(tmp_path / "other", name="someone else's CA")
    client = Client(HttpSettings.build(good.url(""), environ={}, ca_bundle=str(other.pem), retry=ONCE))
    with pytest.raises(TLSError, match=f"not signed by a CA in ca-bundle {other.pem}"):
        client.get(good.url("/simple/"))


def test_unreadable_ca_bundle_is_one_line(good: HostileUpstream, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    client = Client(HttpSettings.build(good.url(""), environ={}, ca_bundle=str(missing), retry=ONCE))
    with pytest.raises(TLSError) as err:
        client.get(good.url("/simple/"))
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
