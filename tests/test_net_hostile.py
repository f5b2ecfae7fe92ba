"""The net layer against an upstream that misbehaves on purpose (issue 13 items 1, 4, 5, 6).

No timing asserts: a blocked request is proven ended by the call returning at all (each test has
pytest-timeout's bound as a backstop) and by what the server saw, never by how fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from mirror_tool.net import (
    BodyTooLarge,
    BufferSink,
    Client,
    DeadlineExceeded,
    DownloadJob,
    ForeignHost,
    HttpSettings,
    RateLimited,
    RetryPolicy,
    Stopped,
)
from mirror_tool.exitcodes import ExitCode
from mirror_tool.stop import StopToken
from tests.support.hostile_upstream import HostileUpstream, wait_for

ROOT = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_max=0.02, retry_after_max=5)


@pytest.fixture
def upstream() -> Iterator[HostileUpstream]:
    with HostileUpstream() as server:
        yield server


def client_for(server: HostileUpstream, stop: StopToken | None = None, **fields: Any) -> Client:
    fields.setdefault("retry", FAST)
    return Client(HttpSettings.build(server.url(""), environ={}, **fields), stop)


def test_slow_drip_is_ended_by_the_total_deadline(upstream: HostileUpstream) -> None:
    """One byte a second never trips the read timeout; the per-request deadline ends it."""
    upstream.drip("/pypi/slow/json", size=3600)
    client = client_for(upstream, deadline=2.0, read_timeout=30.0)
    with pytest.raises(DeadlineExceeded) as err:
        client.get(upstream.url("/pypi/slow/json"))
    assert "deadline of 2 s exceeded" in str(err.value)
    assert upstream.paths() == ["/pypi/slow/json"]  # a deadline is not retried


def test_gzip_bomb_is_refused_by_the_cap_after_decompression(upstream: HostileUpstream) -> None:
    wire = upstream.gzip_bomb("/pypi/bomb/json", plain_size=1 << 30)
    assert wire < 2 << 20  # a 1 GiB answer in under 2 MiB on the wire
    client = client_for(upstream)
    with pytest.raises(BodyTooLarge) as err:
        client.get(upstream.url("/pypi/bomb/json"), cap=8 << 20)
    assert "cap of 8388608 bytes (after decompression)" in str(err.value)
    assert "\n" not in str(err.value)


def test_gzip_under_the_cap_is_decompressed(upstream: HostileUpstream) -> None:
    upstream.gzip_bomb("/small.json", plain_size=100_000)
    page = client_for(upstream).get(upstream.url("/small.json"), cap=200_000)
    assert page.body == bytes(100_000)
    assert "gzip" in upstream.seen[0].headers.get("Accept-Encoding", "")


def test_429_retry_after_is_honoured(upstream: HostileUpstream) -> None:
    upstream.rate_limited("/pypi/busy/json", times=1, retry_after="1", body=b'{"ok": true}')
    page = client_for(upstream).get(upstream.url("/pypi/busy/json"))
    assert page.body == b'{"ok": true}'
    assert upstream.paths() == ["/pypi/busy/json"] * 2


def test_429_retry_after_beyond_the_bound_fails_without_waiting_or_retrying(upstream: HostileUpstream) -> None:
    upstream.rate_limited("/pypi/busy/json", times=5, retry_after="3600")
    with pytest.raises(RateLimited) as err:
        client_for(upstream).get(upstream.url("/pypi/busy/json"))
    assert "asks to wait 3600 s, more than the 5 s" in str(err.value)
    assert upstream.paths() == ["/pypi/busy/json"]


def test_429_outlasting_the_attempts_is_rate_limited(upstream: HostileUpstream) -> None:
    upstream.rate_limited("/pypi/busy/json", times=10, retry_after="0")
    with pytest.raises(RateLimited, match="after 3 tries"):
        client_for(upstream).get(upstream.url("/pypi/busy/json"))
    assert len(upstream.paths()) == 3


def test_redirect_to_a_foreign_host_is_refused_without_requesting_it(upstream: HostileUpstream,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    with HostileUpstream(host="127.0.0.3") as foreign:
        foreign.ok("/evil.whl", b"evil")
        upstream.redirect("/packages/a.whl", foreign.url("/evil.whl"))
        with pytest.raises(ForeignHost) as err:
            client_for(upstream).download(upstream.url("/packages/a.whl"), BufferSink())
        assert foreign.seen == [] and foreign.connections == 0
    assert foreign.url("/evil.whl") in str(err.value)
    assert any("download-hosts" in r.getMessage() for r in caplog.records)


def test_a_foreign_file_url_is_never_requested(upstream: HostileUpstream) -> None:
    with HostileUpstream(host="127.0.0.3") as foreign:
        foreign.ok("/f.whl", b"x")
        results = client_for(upstream).download_many([DownloadJob(foreign.url("/f.whl"), BufferSink())])
        assert isinstance(results[0], ForeignHost)
        assert foreign.connections == 0


def test_a_configured_download_host_is_allowed(upstream: HostileUpstream) -> None:
    with HostileUpstream(host="127.0.0.3") as files:
        files.ok("/f.whl", b"wheel bytes")
        upstream.redirect("/packages/f.whl", files.url("/f.whl"))
        client = client_for(upstream, download_hosts=(f"127.0.0.3:{files.port}",))
        sink = BufferSink()
        got = client.download(upstream.url("/packages/f.whl"), sink, expected_size=11)
        assert sink.getvalue() == b"wheel bytes"
        assert got.redirects == [files.url("/f.whl")]


def test_stop_from_another_thread_ends_a_blocked_request(upstream: HostileUpstream) -> None:
    upstream.hang("/pypi/never/json")
    stop = StopToken()
    client = client_for(upstream, stop, read_timeout=600, deadline=600)
    threading.Thread(target=lambda: wait_for(lambda: bool(upstream.seen), 30) and stop.set(), daemon=True).start()
    with pytest.raises(Stopped):
        client.get(upstream.url("/pypi/never/json"))
    assert stop.stopped and upstream.paths() == ["/pypi/never/json"]


def test_the_runs_time_limit_ends_a_blocked_download(upstream: HostileUpstream) -> None:
    upstream.drip("/packages/big.whl", size=10_000)
    stop = StopToken.after(1.0)
    with pytest.raises(Stopped):
        client_for(upstream, stop, read_timeout=600).download(upstream.url("/packages/big.whl"), BufferSink())
    assert stop.exit_code == ExitCode.TIMEOUT


def test_sigterm_ends_a_blocked_request_in_another_process(upstream: HostileUpstream, tmp_path: Path) -> None:
    """What `pypi-mirror-run` gets on SIGTERM: the request returns, the process exits by itself."""
    upstream.hang("/pypi/never/json")
    script = tmp_path / "blocked.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from mirror_tool.net import Client, HttpSettings, Stopped
        from mirror_tool.stop import StopToken
        stop = StopToken()
        stop.install_signal_handlers()
        client = Client(HttpSettings.build({upstream.url("")!r}, environ={{}}, read_timeout=600), stop)
        try:
            client.get({upstream.url("/pypi/never/json")!r})
        except Stopped:
            print("stopped", int(stop.exit_code))
            sys.exit(0)
        sys.exit(3)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert wait_for(lambda: bool(upstream.seen), 30)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.split() == ["stopped", "143"]


def test_connections_stay_within_the_cap(upstream: HostileUpstream) -> None:
    for i in range(12):
        upstream.ok(f"/packages/{i}.whl", bytes(1000 + i))
    jobs = [DownloadJob(upstream.url(f"/packages/{i}.whl"), BufferSink(), 1000 + i) for i in range(12)]
    results = client_for(upstream, connections=2).download_many(jobs, concurrency=8)
    assert all(not isinstance(r, BaseException) for r in results)
    assert len(upstream.seen) == 12
    assert upstream.connections <= 2


def test_downloads_run_concurrently(upstream: HostileUpstream) -> None:
    """Several files of one project are in flight at once (not one after another)."""
    for i in range(3):
        upstream.hang(f"/packages/{i}.whl")
    stop = StopToken()
    jobs = [DownloadJob(upstream.url(f"/packages/{i}.whl"), BufferSink()) for i in range(3)]
    threading.Thread(target=lambda: wait_for(lambda: len(upstream.seen) == 3, 30) and stop.set(), daemon=True).start()
    with pytest.raises(Stopped):
        client_for(upstream, stop, connections=3).download_many(jobs)
    assert len(upstream.seen) == 3
