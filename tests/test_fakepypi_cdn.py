"""The CDN in front of the fake origin: PURGE modes and stale pins."""

from __future__ import annotations

import json

from tests.fakepypi import FakePyPI
from tests.fakepypi.httpclient import fetch

V1_JSON = "application/vnd.pypi.simple.v1+json"
AUTH_FAILURE = {"msg": "Provided credentials are missing or invalid"}


def serial_of(server: FakePyPI, path: str, accept: str | None = None) -> int:
    reply = fetch(server.base_url + path, headers={"Accept": accept} if accept else {})
    assert reply.status == 200, path
    return int(reply.headers["X-PyPI-Last-Serial"])


def purge(server: FakePyPI, path: str, key: str | None = None):  # type: ignore[no-untyped-def]
    return fetch(server.base_url + path, "PURGE", {"Fastly-Key": key} if key is not None else {})


def test_purge_auth_mode_is_default_and_refuses_without_key(fakepypi: FakePyPI) -> None:
    reply = purge(fakepypi, "/simple/foo-bar/")
    assert reply.status == 401
    assert reply.headers["Fastly-Purge-Auth-Failure"] == "1"
    assert reply.json() == AUTH_FAILURE
    reply = purge(fakepypi, "/simple/foo-bar/", key="guess")  # no key configured: nothing works
    assert reply.status == 401
    log = fakepypi.purges()
    assert [(p["path"], p["status"], p["key_sent"]) for p in log] == [
        ("/simple/foo-bar/", 401, False), ("/simple/foo-bar/", 401, True)]
    assert all(isinstance(p["time"], float) for p in log)


def test_purge_auth_mode_with_key(fakepypi_factory) -> None:
    server = fakepypi_factory(purge_key="s3cret")
    assert purge(server, "/pypi/foo-bar/json", key="wrong").status == 401
    reply = purge(server, "/pypi/foo-bar/json", key="s3cret")
    assert reply.status == 200
    doc = reply.json()
    assert doc["status"] == "ok" and doc["id"]
    assert [(p["status"], p["key_sent"]) for p in server.purges()] == [(401, True), (200, True)]


def test_purge_open_mode(fakepypi: FakePyPI) -> None:
    fakepypi.set_purge_mode("open")
    reply = purge(fakepypi, "/simple/foo-bar/")
    assert reply.status == 200 and reply.json()["status"] == "ok"
    assert fakepypi.purges()[-1]["status"] == 200
    assert fakepypi.requests()[-1]["method"] == "PURGE"


def test_stale_pin_serves_old_pages_until_purged(fakepypi: FakePyPI) -> None:
    old_serial = fakepypi.projects()["foo-bar"]["last_serial"]
    pinned = fakepypi.pin_stale("Foo.Bar")
    assert pinned == fakepypi.last_serial
    fakepypi.upload("Foo.Bar", "7.0.0")
    new_serial = fakepypi.last_serial
    # every variant of every page of the project is stale: old body and old serial
    html = fetch(fakepypi.base_url + "/simple/foo-bar/")
    assert html.headers["X-PyPI-Last-Serial"] == str(old_serial) and "foo_bar-7.0.0" not in html.text
    assert html.headers["X-Cache"].startswith("HIT")
    doc = fetch(fakepypi.base_url + "/simple/foo-bar/", headers={"Accept": V1_JSON}).json()
    assert doc["meta"]["_last-serial"] == old_serial and "7.0.0" not in doc["versions"]
    api = fetch(fakepypi.base_url + "/pypi/foo-bar/json")
    assert api.json()["last_serial"] == old_serial and api.json()["info"]["version"] == "1.2.0"
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/7.0.0/json").status == 404
    assert fetch(fakepypi.base_url + "/pypi/Foo.Bar/json").status == 301
    # a refused PURGE changes nothing
    assert purge(fakepypi, "/simple/foo-bar/").status == 401
    assert serial_of(fakepypi, "/simple/foo-bar/") == old_serial
    # an accepted PURGE evicts that URL (all Accept variants), the others stay stale
    fakepypi.set_purge_mode("auth", key="k")
    assert purge(fakepypi, "/simple/foo-bar/", key="k").status == 200
    assert serial_of(fakepypi, "/simple/foo-bar/") == new_serial
    assert serial_of(fakepypi, "/simple/foo-bar/", V1_JSON) == new_serial
    assert serial_of(fakepypi, "/pypi/foo-bar/json") == old_serial
    assert purge(fakepypi, "/pypi/foo-bar/json", key="k").status == 200
    assert serial_of(fakepypi, "/pypi/foo-bar/json") == new_serial
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/json").json()["info"]["version"] == "7.0.0"
    # other projects were never pinned
    assert serial_of(fakepypi, "/simple/needs-py/") == fakepypi.projects()["needs-py"]["last_serial"]


def test_pin_at_past_serial_reconstructs_history(fakepypi: FakePyPI) -> None:
    before_yank = fakepypi.last_serial
    fakepypi.yank("Foo.Bar", "1.2.0", "bad")
    fakepypi.remove_file("Foo.Bar", "foo_bar-1.0.0.tar.gz")
    fakepypi.pin_stale("foo.bar", before_yank)
    text = fetch(fakepypi.base_url + "/simple/foo-bar/").text
    assert "data-yanked" not in text and "foo_bar-1.0.0.tar.gz" in text
    fakepypi.unpin("Foo.Bar")
    text = fetch(fakepypi.base_url + "/simple/foo-bar/").text
    assert 'data-yanked="bad"' in text and "foo_bar-1.0.0.tar.gz" not in text
    # pinned before the project existed: the CDN keeps serving a 404
    first_dup_serial = min(r[4] for r in fakepypi.journal(0) if r[0] == "dup.name")
    fakepypi.pin_stale("dup.name", first_dup_serial - 1)
    assert fetch(fakepypi.base_url + "/simple/dup-name/").status == 404
    assert fetch(fakepypi.base_url + "/pypi/dup-name/json").status == 404


def test_serve_stale_for_next_n_requests(fakepypi: FakePyPI) -> None:
    old = fakepypi.projects()["foo-bar"]["last_serial"]
    fakepypi.serve_stale_for("Foo.Bar", 2)
    fakepypi.upload("Foo.Bar", "8.0.0")
    assert serial_of(fakepypi, "/pypi/foo-bar/json") == old
    assert serial_of(fakepypi, "/simple/foo-bar/") == old
    assert serial_of(fakepypi, "/pypi/foo-bar/json") == fakepypi.last_serial
    assert serial_of(fakepypi, "/simple/foo-bar/") == fakepypi.last_serial


def test_pin_single_url_including_the_index(fakepypi: FakePyPI) -> None:
    pinned = fakepypi.pin_stale_url("/simple/")
    fakepypi.upload("Brand.New", "1.0")
    doc = fetch(fakepypi.base_url + "/simple/", headers={"Accept": V1_JSON}).json()
    assert doc["meta"]["_last-serial"] == pinned
    assert "Brand.New" not in {p["name"] for p in doc["projects"]}
    assert serial_of(fakepypi, "/simple/brand-new/") == fakepypi.last_serial  # project page not pinned
    fakepypi.set_purge_mode("open")
    purge(fakepypi, "/simple/")
    doc = fetch(fakepypi.base_url + "/simple/", headers={"Accept": V1_JSON}).json()
    assert "Brand.New" in {p["name"] for p in doc["projects"]}
    assert fakepypi.pins() == {"projects": {}, "urls": {}}


def test_pins_visible_in_state(fakepypi: FakePyPI) -> None:
    fakepypi.pin_stale("Foo.Bar", 5)
    state = json.loads(fetch(fakepypi.base_url + "/_fake/state").body)
    assert state["pins"]["projects"]["foo-bar"]["serial"] == 5
    fakepypi.unpin_all()
    assert fakepypi.pins() == {"projects": {}, "urls": {}}


def test_redirects_do_not_use_up_counted_pins(fakepypi: FakePyPI) -> None:
    old = fakepypi.projects()["foo-bar"]["last_serial"]
    fakepypi.serve_stale_for("Foo.Bar", 1)
    fakepypi.upload("Foo.Bar", "8.1.0")
    assert fetch(fakepypi.base_url + "/pypi/Foo.Bar/json").status == 301
    assert serial_of(fakepypi, "/pypi/foo-bar/json") == old
    assert serial_of(fakepypi, "/pypi/foo-bar/json") == fakepypi.last_serial


def test_counted_url_pin(fakepypi: FakePyPI) -> None:
    old = fakepypi.projects()["foo-bar"]["last_serial"]
    fakepypi.pin_stale_url("/pypi/foo-bar/json", requests=2)
    fakepypi.upload("Foo.Bar", "8.2.0")
    assert serial_of(fakepypi, "/simple/foo-bar/") == fakepypi.last_serial  # other URLs are fresh
    assert [serial_of(fakepypi, "/pypi/foo-bar/json") for _ in range(3)] == [old, old, fakepypi.last_serial]
