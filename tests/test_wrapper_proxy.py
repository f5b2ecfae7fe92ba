"""`pypi-mirror-run` behind a real forward proxy (tinyproxy on 127.0.0.1), the way cron runs it.

The proxy connects out from 127.0.0.2 (tests/support/forward_proxy.py), so the peer address each
upstream recorded proves which requests went through it. Two ways in: the `[mirror] proxy` key
(which wins over the environment), and `HTTPS_PROXY` from the environment with `NO_PROXY` sending a
download host direct, over https with the upstream's private CA in `ca-bundle`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.forward_proxy import OUTGOING, ForwardProxy
from tests.support.hostile_upstream import HostileUpstream
from tests.support.scripted_site import ScriptedSite
from tests.support.tls_ca import TestCA
from tests.support.tree_check import assert_tree_consistent
from tests.test_wrapper_support import run_wrapper, write_config


def test_the_proxy_key_carries_every_request_of_the_run(tmp_path: Path, fakepypi_factory: Any) -> None:
    fp = fakepypi_factory(host="127.0.0.3")
    log = tmp_path / "wrapper.log"
    with ForwardProxy(tmp_path / "proxy") as proxy:
        config = write_config(tmp_path / "pypi-mirror.conf", tmp_path / "mirror", fp.base_url,
                              {"proxy": proxy.url}, {"log-file": str(log)})
        # The key wins: a dead environment proxy and a NO_PROXY naming the upstream change nothing.
        env = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.3", "no_proxy": "127.0.0.3"}

        result = run_wrapper(config, extra_env=env)

    assert result.returncode == 0, log.read_text()
    requests = fp.requests()
    assert any(r["path"].startswith("/packages/") for r in requests)
    assert {r["client"] for r in requests} == {OUTGOING}
    assert int((tmp_path / "mirror" / "status").read_text()) == fp.last_serial
    assert_tree_consistent(tmp_path / "mirror")


def test_https_proxy_from_the_environment_with_no_proxy_honoured(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    cert = ca.issue("upstream", ["127.0.0.3"])
    log = tmp_path / "wrapper.log"
    with ForwardProxy(tmp_path / "proxy") as proxy, \
            HostileUpstream(host="127.0.0.3", tls=cert.context(), only_from=OUTGOING) as upstream, \
            HostileUpstream(host="127.0.0.4", only_from="127.0.0.1") as files:
        site = ScriptedSite(upstream)
        site.add_project("near", {"near-1.0.tar.gz": b"from the upstream, through the proxy"})
        site.add_project("far", {"far-1.0.tar.gz": b"from the download host, direct"}, file_server=files)
        site.publish()
        mirror = {"changelog-source": "index", "ca-bundle": str(ca.pem), "download-hosts": f"127.0.0.4:{files.port}"}
        config = write_config(tmp_path / "pypi-mirror.conf", tmp_path / "mirror", upstream.url(""), mirror,
                              {"log-file": str(log)})
        env = {"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.4", "no_proxy": "127.0.0.4"}

        result = run_wrapper(config, extra_env=env)

        assert result.returncode == 0, log.read_text()
        assert {s.peer for s in upstream.seen} == {OUTGOING} and upstream.refused_peers == []
        assert [s.path.rsplit("/", 1)[1] for s in files.seen] == ["far-1.0.tar.gz"]
        assert {s.peer for s in files.seen} == {"127.0.0.1"}
    report = assert_tree_consistent(tmp_path / "mirror")
    assert set(report.projects) == {"near", "far"}
