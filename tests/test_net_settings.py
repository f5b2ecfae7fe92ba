"""HttpSettings: proxy resolution (config over environment, NO_PROXY), allowed hosts, Retry-After."""

from __future__ import annotations

import email.utils
import time

import pytest

from mirror_tool.net import HttpSettings, RetryPolicy, retry_after

UP = "https://upstream.test"


def test_config_proxy_wins_over_every_environment_variable() -> None:
    env = {"HTTPS_PROXY": "http://env-proxy:3128", "NO_PROXY": "upstream.test"}
    s = HttpSettings.build(UP, proxy="http://conf-proxy:8080", environ=env)
    assert s.proxy_for("https://upstream.test/simple/") == "http://conf-proxy:8080"
    assert s.proxy_for("http://files.test/x.whl") == "http://conf-proxy:8080"


def test_environment_proxy_by_scheme_either_case() -> None:
    s = HttpSettings.build(UP, environ={"https_proxy": "http://tls-proxy:1", "HTTP_PROXY": "http://plain:2"})
    assert s.proxy_for("https://upstream.test/") == "http://tls-proxy:1"
    assert s.proxy_for("http://upstream.test/") == "http://plain:2"
    assert HttpSettings.build(UP, environ={}).proxy_for("https://upstream.test/") is None


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("upstream.test", "https://upstream.test/", True),
        ("upstream.test", "https://a.upstream.test/", True),
        (".upstream.test", "https://a.upstream.test/", True),
        ("upstream.test", "https://notupstream.test/", False),
        ("*", "https://anything.test/", True),
        ("127.0.0.0/8", "http://127.0.0.5:8080/", True),
        ("10.0.0.0/8", "http://127.0.0.5:8080/", False),
        ("upstream.test:8443", "https://upstream.test:8443/", True),
        ("upstream.test:8443", "https://upstream.test/", False),
        ("other.test, upstream.test", "https://upstream.test/", True),
    ],
)
def test_no_proxy_matching(no_proxy: str, url: str, bypassed: bool) -> None:
    s = HttpSettings.build(UP, environ={"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://p:1", "NO_PROXY": no_proxy})
    assert (s.proxy_for(url) is None) is bypassed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://upstream.test/packages/a.whl", True),
        ("https://upstream.test:443/x", True),
        ("https://upstream.test:8443/x", False),  # same name, another port: another server
        ("https://files.test/packages/a.whl", True),
        ("http://files.test/packages/a.whl", True),
        ("https://files.test:9000/x", False),
        ("https://pinned.test:9000/x", True),
        ("https://evil.test/x", False),
        ("ftp://upstream.test/x", False),
        ("file:///etc/passwd", False),
    ],
)
def test_allowed_hosts(url: str, allowed: bool) -> None:
    s = HttpSettings.build(UP, environ={}, download_hosts=("files.test", "pinned.test:9000"))
    assert s.host_allowed(url) is allowed


def test_retry_after_forms() -> None:
    assert retry_after("7") == 7.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after(later) or 0) <= 31


def test_backoff_is_bounded() -> None:
    policy = RetryPolicy(backoff=0.5, backoff_max=2.0)
    assert [policy.delay(n) for n in range(4)] == [0.5, 1.0, 2.0, 2.0]


def test_trust_file_is_the_bundle_when_given(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "ca.pem"
    assert HttpSettings.build(UP, environ={}, ca_bundle=str(bundle)).trust_file() == str(bundle)
    assert HttpSettings.build(UP, environ={}).trust_file().endswith((".crt", ".pem"))


def test_settings_from_the_mirror_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every [mirror] key of the layer lands in HttpSettings; the environment is read once, here."""
    from mirror_tool.config import load_config
    from mirror_tool.net import settings_from_config

    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here\n")
    conf = tmp_path / "mirror.conf"
    conf.write_text(f"[mirror]\ndirectory = {tmp_path}/m\nmaster = https://upstream.test/\ntimeout = 7\nretries = 2\n")
    s = settings_from_config(load_config(conf).mirror, user_agent="pypi-mirror/test",
                             environ={"HTTPS_PROXY": "http://p:1"})
    assert (s.upstream, s.connect_timeout, s.read_timeout, s.retry.attempts) == ("https://upstream.test", 7.0, 7.0, 3)
    assert s.proxy_for("https://upstream.test/simple/") == "http://p:1"
    assert s.caps.project == 64 << 20 and s.connections == 4 and s.user_agent == "pypi-mirror/test"
    assert s.ca_bundle is None and s.download_hosts == () and (s.deadline, s.download_deadline) == (300, 1800)

    conf.write_text(conf.read_text() + f"""proxy = http://conf:3128
ca-bundle = {bundle}
download-hosts = files.test files.test:8443
worker-connections = 9
request-deadline = 30
download-deadline = 90
retry-after-max = 5
max-project-json-size = 2M
max-index-size = 1G
max-xmlrpc-size = 300K
max-metadata-size = 4096
""")
    s = settings_from_config(load_config(conf).mirror, user_agent="x", environ={"HTTPS_PROXY": "http://p:1"})
    assert s.proxy_for("https://upstream.test/simple/") == "http://conf:3128"
    assert s.trust_file() == str(bundle)
    assert s.host_allowed("https://files.test/a.whl") and s.host_allowed("https://files.test:8443/a.whl")
    assert (s.connections, s.deadline, s.download_deadline, s.retry.retry_after_max) == (9, 30, 90, 5)
    assert (s.caps.project, s.caps.index, s.caps.xmlrpc, s.caps.metadata) == (2 << 20, 1 << 30, 300 << 10, 4096)


def test_the_download_mirror_is_an_allowed_file_host(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mirror_tool.config import load_config
    from mirror_tool.net import settings_from_config

    conf = tmp_path / "mirror.conf"
    conf.write_text(f"[mirror]\ndirectory = {tmp_path}/m\nmaster = https://upstream.test\n"
                    "download-mirror = http://near.test:8080/\n")
    s = settings_from_config(load_config(conf).mirror, user_agent="x", environ={})
    assert s.host_allowed("http://near.test:8080/packages/aa/bb/cc/f.whl")
    assert not s.host_allowed("http://near.test/packages/aa/bb/cc/f.whl")  # another port: not that mirror


def test_hashing_sink_restarts_its_writer() -> None:
    from mirror_tool.errors import IntegrityError
    from mirror_tool.net import HashingSink

    opened: list[list[bytes]] = []
    discarded: list[int] = []

    class Writer:
        def __init__(self) -> None:
            self.data: list[bytes] = []
            opened.append(self.data)

        def write(self, data: memoryview) -> None:
            self.data.append(bytes(data))

        def discard(self) -> None:
            discarded.append(len(opened))

    sink = HashingSink(Writer)
    assert opened == []  # nothing held open for a file still queued
    sink.write(b"half a bo")
    sink.restart()
    sink.write(b"whole body")
    assert opened == [[b"half a bo"], [b"whole body"]] and discarded == [1]
    assert sink.finish().data == [b"whole body"]  # type: ignore[attr-defined]
    sink.verify(__import__("hashlib").sha256(b"whole body").hexdigest())
    with pytest.raises(IntegrityError):
        sink.verify("0" * 64, "https://upstream.test/f.whl")
