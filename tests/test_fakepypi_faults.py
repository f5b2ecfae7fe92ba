"""Fault injection switches: status codes, cut connections, bad hashes, latency."""

from __future__ import annotations

import hashlib
import http.client
import time
from urllib.parse import urlsplit

import pytest

from tests.fakepypi import FakePyPI
from tests.fakepypi.httpclient import control, fetch


def a_wheel(server: FakePyPI) -> dict:
    files = server.projects()["foo-bar"]["releases"]["1.2.0"]["files"]
    return next(f for f in files if f["filename"].endswith(".whl"))


@pytest.mark.parametrize("status", [500, 503])
def test_status_fault_on_prefix_for_next_n(fakepypi: FakePyPI, status: int) -> None:
    fault_id = fakepypi.add_fault("status", prefix="/simple/", status=status, count=2)
    assert fetch(fakepypi.base_url + "/simple/foo-bar/").status == status
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/json").status == 200  # not selected
    assert fetch(fakepypi.base_url + "/simple/").status == status
    assert fetch(fakepypi.base_url + "/simple/foo-bar/").status == 200  # count used up
    assert fakepypi.list_faults() == []
    assert [r["faults"] for r in fakepypi.requests()][:1] == [[fault_id]]


def test_status_fault_fraction_and_regex(fakepypi: FakePyPI) -> None:
    fakepypi.add_fault("status", regex=r"^/pypi/[^/]+/json$", fraction=0.5, status=503)
    statuses = [fetch(fakepypi.base_url + "/pypi/foo-bar/json").status for _ in range(60)]
    assert set(statuses) == {200, 503}
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/1.0.0/json").status == 200
    fakepypi.clear_faults()
    assert all(fetch(fakepypi.base_url + "/pypi/foo-bar/json").status == 200 for _ in range(5))


def test_exact_path_fault_and_control_api_is_exempt(fakepypi: FakePyPI) -> None:
    fakepypi.add_fault("status", status=500)  # every request
    assert fetch(fakepypi.base_url + "/simple/needs-py/").status == 500
    assert control(fakepypi.base_url, "state").status == 200
    fakepypi.clear_faults()
    fakepypi.add_fault("status", path="/simple/needs-py/", status=503)
    assert fetch(fakepypi.base_url + "/simple/needs-py/").status == 503
    assert fetch(fakepypi.base_url + "/simple/needs-py/x").status == 404


def test_cut_mid_body(fakepypi: FakePyPI) -> None:
    wheel = a_wheel(fakepypi)
    fakepypi.add_fault("cut", path=urlsplit(wheel["url"]).path, count=1)
    url = urlsplit(wheel["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", url.path)
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.headers["Content-Length"]) == wheel["size"]
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert 0 < len(info.value.partial) < wheel["size"]
    conn.close()
    assert fetch(wheel["url"]).body == fakepypi.file_bytes(wheel["filename"])  # only the next 1


def test_cut_streamed_index(fakepypi_factory) -> None:
    server = fakepypi_factory(index_projects=20000)
    server.add_fault("cut", path="/simple/", count=1)
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        fetch(server.base_url + "/simple/")
    assert len(fetch(server.base_url + "/simple/", headers={
        "Accept": "application/vnd.pypi.simple.v1+json"}).json()["projects"]) == 20000


def test_bad_hash(fakepypi: FakePyPI) -> None:
    wheel = a_wheel(fakepypi)
    fakepypi.add_fault("bad_hash", prefix="/packages/", count=1)
    reply = fetch(wheel["url"])
    assert reply.status == 200 and len(reply.body) == wheel["size"]
    assert hashlib.sha256(reply.body).hexdigest() != wheel["sha256"]
    good = fetch(wheel["url"])
    assert hashlib.sha256(good.body).hexdigest() == wheel["sha256"]


def test_latency(fakepypi: FakePyPI) -> None:
    fakepypi.add_fault("latency", prefix="/pypi/", latency=0.3)
    started = time.monotonic()
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/json").status == 200
    assert time.monotonic() - started >= 0.3  # a lower bound the server guarantees, not a speed claim
    assert fakepypi.requests()[-1]["faults"]


def test_fault_validation(fakepypi: FakePyPI) -> None:
    with pytest.raises(ValueError):
        fakepypi.add_fault("explode")
    with pytest.raises(ValueError):
        fakepypi.add_fault("status", fraction=2)
    with pytest.raises(ValueError):
        fakepypi.add_fault("status", count=0)
