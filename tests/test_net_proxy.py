"""Proxies with a real forward proxy (tinyproxy) on 127.0.0.1: http forwarding, https via CONNECT,
NO_PROXY, the `proxy` key over the environment, and a refusal as one clear line.

The upstream accepts connections only from the proxy's outgoing address (127.0.0.2), so a request
that reached it went through the proxy, and a direct one is turned away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from mirror_tool.net import Client, HttpSettings, ProxyError, RetryPolicy, TransportError
from tests.support.forward_proxy import OUTGOING, ForwardProxy
from tests.support.hostile_upstream import HostileUpstream
from tests.support.tls_ca import TestCA

ONCE = RetryPolicy(attempts=1)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    with ForwardProxy(tmp_path / "proxy") as p:
        yield p


@pytest.fixture
def behind_proxy() -> Iterator[HostileUpstream]:
    """An http upstream on 127.0.0.3 that only the proxy may reach."""
    with HostileUpstream(host="127.0.0.3", only_from=OUTGOING) as server:
        server.ok("/simple/", b"index over http")
        yield server


def test_upstream_is_unreachable_without_the_proxy(behind_proxy: HostileUpstream) -> None:
    client = Client(HttpSettings.build(behind_proxy.url(""), environ={}, retry=ONCE))
    with pytest.raises(TransportError):
        client.get(behind_proxy.url("/simple/"))
    assert behind_proxy.seen == [] and behind_proxy.refused_peers


def test_http_through_the_environment_proxy(behind_proxy: HostileUpstream, proxy: ForwardProxy) -> None:
    client = Client(HttpSettings.build(behind_proxy.url(""), environ={"HTTP_PROXY": proxy.url}, retry=ONCE))
    page = client.get(behind_proxy.url("/simple/"))
    assert page.body == b"index over http"
    assert [s.peer for s in behind_proxy.seen] == [OUTGOING]


def test_https_through_the_proxy_with_connect(proxy: ForwardProxy, tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    cert = ca.issue("upstream", ["127.0.0.3"])
    with HostileUpstream(host="127.0.0.3", tls=cert.context(), only_from=OUTGOING) as server:
        server.ok("/simple/", b"index over https")
        settings = HttpSettings.build(server.url(""), environ={"https_proxy": proxy.url}, ca_bundle=str(ca.pem),
                                      retry=ONCE)
        page = Client(settings).get(server.url("/simple/"))
        assert page.body == b"index over https"
        # TLS end to end with the upstream, from the proxy's address: only a CONNECT tunnel does that
        assert [s.peer for s in server.seen] == [OUTGOING]


def test_no_proxy_goes_direct(proxy: ForwardProxy) -> None:
    with HostileUpstream(host="127.0.0.4", only_from="127.0.0.1") as direct:
        direct.ok("/simple/", b"direct")
        env = {"HTTP_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.4"}
        page = Client(HttpSettings.build(direct.url(""), environ=env, retry=ONCE)).get(direct.url("/simple/"))
        assert page.body == b"direct" and [s.peer for s in direct.seen] == ["127.0.0.1"]


def test_the_proxy_key_wins_over_the_environment(behind_proxy: HostileUpstream, proxy: ForwardProxy) -> None:
    env = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.3"}  # a dead proxy, and a bypass
    client = Client(HttpSettings.build(behind_proxy.url(""), proxy=proxy.url, environ=env, retry=ONCE))
    assert client.get(behind_proxy.url("/simple/")).body == b"index over http"
    assert [s.peer for s in behind_proxy.seen] == [OUTGOING]


def test_a_refused_connect_is_one_line_naming_the_proxy(tmp_path: Path) -> None:
    with ForwardProxy(tmp_path / "strict", connect_ports=[443]) as strict, \
            HostileUpstream(host="127.0.0.3") as server:
        client = Client(HttpSettings.build(f"https://127.0.0.3:{server.port}", proxy=strict.url, environ={},
                                           retry=ONCE))
        with pytest.raises(ProxyError) as err:
            client.get(f"https://127.0.0.3:{server.port}/simple/")
        text = str(err.value)
        assert strict.url in text and "CONNECT" in text and "\n" not in text
        assert server.connections == 0


def test_an_unreachable_proxy_is_one_line_naming_it(behind_proxy: HostileUpstream) -> None:
    client = Client(HttpSettings.build(behind_proxy.url(""), proxy="http://127.0.0.1:9", environ={}, retry=ONCE))
    with pytest.raises(ProxyError) as err:
        client.get(behind_proxy.url("/simple/"))
    assert "proxy http://127.0.0.1:9" in str(err.value) and "\n" not in str(err.value)


def test_proxy_credentials_never_reach_the_message(behind_proxy: HostileUpstream) -> None:
    client = Client(HttpSettings.build(behind_proxy.url(""), proxy="http://mirror:s3cret@127.0.0.1:9", environ={},
                                       retry=ONCE))
    with pytest.raises(ProxyError) as err:
        client.get(behind_proxy.url("/simple/"))
    assert "s3cret" not in str(err.value) and "http://***@127.0.0.1:9" in str(err.value)
