"""WAN shaping of the fake upstream: round trips, connection setup, bandwidth caps and gzip.

Timing is only ever checked from below (a shaped request takes at least what the profile
charges); the exact delays charged are checked through the request log, which is not timing.
"""

from __future__ import annotations

import gzip
import http.client
import subprocess
import sys
import threading
import time
import xmlrpc.client
from pathlib import Path

import pytest

from tests.fakepypi import OFF, WAN, FakePyPI, WanProfile
from tests.fakepypi.__main__ import parse_args, wan_profile
from tests.fakepypi.httpclient import control, fetch

ROOT = Path(__file__).resolve().parent.parent
V1_JSON = "application/vnd.pypi.simple.v1+json"


def timed_get(conn: http.client.HTTPConnection, path: str,
              headers: dict[str, str] | None = None) -> tuple[float, http.client.HTTPResponse, bytes]:
    start = time.perf_counter()
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    return time.perf_counter() - start, resp, body


def one_file(server: FakePyPI) -> dict:
    info = next(iter(server.projects().values()))
    return next(iter(info["releases"].values()))["files"][0]


def test_round_trip_before_every_response_and_setup_on_new_connections(fakepypi_factory) -> None:
    server = fakepypi_factory(wan=WanProfile(rtt=0.05, setup_rtts=2))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    first, resp, _ = timed_get(conn, "/simple/foo-bar/")
    assert resp.status == 200 and first >= 0.15
    second, resp, _ = timed_get(conn, "/pypi/foo-bar/json")  # same keep-alive connection
    assert resp.status == 200 and second >= 0.05
    conn.close()
    fresh = fetch(server.base_url + "/simple/")  # a new connection pays the setup again
    assert fresh.status == 200
    delays = [round(r["wan_delay"], 6) for r in server.requests()]
    assert delays == [0.15, 0.05, 0.15]


def test_connection_cap_paces_a_large_file(fakepypi_factory) -> None:
    server = fakepypi_factory(projects=1, releases=1, files=1, file_size=10_000_000,
                              wan=WanProfile(conn_mbit=80))
    f = one_file(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    elapsed, resp, body = timed_get(conn, f["path"])
    conn.close()
    assert resp.status == 200 and len(body) == f["size"] == 10_000_000
    assert elapsed >= 10_000_000 * 8 / 80e6 * 0.95  # 1 s at 80 Mbit/s, less the pacer's slack


def test_link_cap_is_shared_by_concurrent_connections(fakepypi_factory) -> None:
    server = fakepypi_factory(projects=2, releases=1, files=1, file_size=5_000_000,
                              wan=WanProfile(link_mbit=80))
    paths = [next(iter(info["releases"].values()))["files"][0]["path"] for info in server.projects().values()]
    sizes: list[int] = []

    def download(path: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        sizes.append(len(timed_get(conn, path)[2]))
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=download, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert sorted(sizes) == [5_000_000, 5_000_000]
    assert elapsed >= 10_000_000 * 8 / 80e6 * 0.95  # 10 MB through one 80 Mbit/s link: >= 1 s


def test_gzip_only_for_json_and_xml_and_only_when_asked(fakepypi_factory) -> None:
    server = fakepypi_factory(wan=WanProfile(gzip=True))
    base = server.base_url
    for path, accept in (("/pypi/foo-bar/json", None), ("/simple/foo-bar/", V1_JSON)):
        plain = fetch(base + path, headers={"Accept": accept} if accept else {})
        assert plain.status == 200 and plain.headers["Content-Encoding"] is None
        headers = {"Accept-Encoding": "gzip, deflate", **({"Accept": accept} if accept else {})}
        packed = fetch(base + path, headers=headers)
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(packed.body) == plain.body
        assert len(packed.body) < len(plain.body)
        refused = fetch(base + path, headers={**headers, "Accept-Encoding": "gzip;q=0, identity"})
        assert refused.headers["Content-Encoding"] is None and refused.body == plain.body
    html = fetch(base + "/simple/foo-bar/", headers={"Accept-Encoding": "gzip"})
    assert html.status == 200 and html.headers["Content-Encoding"] is None and b"<a " in html.body
    wheel = one_file(server)
    raw = fetch(base + wheel["path"], headers={"Accept-Encoding": "gzip"})
    assert raw.headers["Content-Encoding"] is None and len(raw.body) == wheel["size"]
    log = server.requests()
    assert [r["encoding"] for r in log].count("gzip") == 2
    packed_entry = next(r for r in log if r["encoding"] == "gzip")
    assert packed_entry["bytes"] < next(r for r in log if r["path"] == packed_entry["path"])["bytes"]


def test_gzip_of_xmlrpc_answers(fakepypi_factory) -> None:
    server = fakepypi_factory(wan=WanProfile(gzip=True))
    call = xmlrpc.client.dumps((0,), "changelog_since_serial").encode()
    headers = {"Content-Type": "text/xml"}
    plain = fetch(server.base_url + "/pypi", "POST", headers, call)
    packed = fetch(server.base_url + "/pypi", "POST", {**headers, "Accept-Encoding": "gzip"}, call)
    assert plain.status == packed.status == 200
    assert plain.headers["Content-Encoding"] is None and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.body) == plain.body
    # and the standard library's XML-RPC client (which asks for gzip) reads it
    rows = xmlrpc.client.ServerProxy(server.base_url + "/pypi").changelog_since_serial(0)
    assert len(rows) == len(server.journal(0))


def test_gzip_of_a_streamed_index_decodes_the_same_and_is_reused(fakepypi_factory) -> None:
    server = fakepypi_factory(projects=8, index_projects=6000, wan=WanProfile(gzip=True))
    url = server.base_url + "/simple/"
    plain = fetch(url, headers={"Accept": V1_JSON})
    first = fetch(url, headers={"Accept": V1_JSON, "Accept-Encoding": "gzip"})
    again = fetch(url, headers={"Accept": V1_JSON, "Accept-Encoding": "gzip"})
    assert plain.headers["Transfer-Encoding"] == "chunked"  # streamed, not a cached page
    assert first.headers["Content-Encoding"] == again.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(first.body) == gzip.decompress(again.body) == plain.body
    assert again.headers["Content-Length"] == str(len(again.body))  # the compressed copy was kept


def test_gzip_off_serves_plain_bodies(fakepypi_factory) -> None:
    server = fakepypi_factory(wan=WanProfile(rtt=0.001))
    reply = fetch(server.base_url + "/pypi/foo-bar/json", headers={"Accept-Encoding": "gzip"})
    assert reply.status == 200 and reply.headers["Content-Encoding"] is None


@pytest.mark.parametrize(("argv", "expected"), [
    ([], OFF),
    (["--wan"], WAN),
    (["--wan", "--rtt-ms", "10", "--no-gzip"], WanProfile(rtt=0.01, setup_rtts=2, conn_mbit=200.0,
                                                          link_mbit=1000.0, gzip=False)),
    (["--link-mbit", "100", "--setup-rtts", "1"], WanProfile(setup_rtts=1, link_mbit=100.0)),
])
def test_cli_flags_give_the_profile(argv: list[str], expected: WanProfile) -> None:
    assert wan_profile(parse_args(argv)) == expected


def test_cli_refuses_negative_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--rtt-ms", "-1"])
    assert exc.value.code == 2 and "--rtt-ms" in capsys.readouterr().err


def test_wan_switched_at_run_time_through_the_control_api(fakepypi: FakePyPI) -> None:
    base = fakepypi.base_url
    doc = control(base, "wan", {"profile": "wan", "rtt": 0.002}).json()
    assert doc["wan"] == {**WAN.as_dict(), "rtt": 0.002} and fakepypi.wan.link_mbit == 1000.0
    assert fetch(base + "/pypi/foo-bar/json").status == 200
    assert fakepypi.requests()[-1]["wan_delay"] == pytest.approx(0.002 * 3)
    assert control(base, "wan", {"bogus": 1}).status == 400
    assert control(base, "wan", {"profile": "lan"}).status == 400
    assert control(base, "wan", {"profile": "off"}).json()["wan"] == OFF.as_dict()


def test_cli_process_starts_with_the_profile() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakepypi", "--port", "0", "--wan", "--rtt-ms", "30"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert base.startswith("http://127.0.0.1:")
        assert control(base, "state").json()["wan"] == {**WAN.as_dict(), "rtt": 0.03}
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
