"""HTTP/2: over TLS the files of one project share one multiplexed connection (a real nginx with http2)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mirror_tool.net import BufferSink, Client, DownloadJob, HttpSettings
from tests.support.forward_proxy import free_port, wait_listening
from tests.support.tls_ca import TestCA

NGINX = Path("/usr/sbin/nginx")


def test_concurrent_downloads_share_one_http2_connection(tmp_path: Path) -> None:
    if not NGINX.exists():
        pytest.fail("nginx is not installed: run scripts/setup-host.sh")
    ca = TestCA(tmp_path / "ca")
    cert = ca.issue("nginx", ["127.0.0.1"])
    www = tmp_path / "www"
    www.mkdir()
    files = {f"/{i}.whl": os.urandom(100_000 + i) for i in range(8)}
    for path, data in files.items():
        (www / path.lstrip("/")).write_bytes(data)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    temp = " ".join(f"{k}_temp_path {tmp_path};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf.write_text(f"""
        daemon off; master_process off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
        events {{}}
        http {{
          log_format conn '$connection $server_protocol $request_uri';
          access_log {tmp_path}/access.log conn;
          {temp}
          server {{
            listen 127.0.0.1:{port} ssl http2;
            ssl_certificate {cert.cert}; ssl_certificate_key {cert.key};
            root {www};
          }}
        }}
    """)
    proc = subprocess.Popen([str(NGINX), "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.DEVNULL)
    try:
        assert wait_listening(port, proc), (tmp_path / "error.log").read_text()
        base = f"https://127.0.0.1:{port}"
        client = Client(HttpSettings.build(base, environ={}, ca_bundle=str(ca.pem), connections=4))
        jobs = [DownloadJob(base + path, BufferSink(), len(data)) for path, data in files.items()]
        results = client.download_many(jobs)
        assert [j.sink.getvalue() for j in jobs] == list(files.values())  # type: ignore[attr-defined]
        assert all(not isinstance(r, BaseException) for r in results)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = [line.split() for line in (tmp_path / "access.log").read_text().splitlines()]
    assert sorted(uri for _, _, uri in lines) == sorted(files)
    assert {proto for _, proto, _ in lines} == {"HTTP/2.0"}
    assert len({conn for conn, _, _ in lines}) == 1
