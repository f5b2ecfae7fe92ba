"""XML-RPC and journal semantics of the fake upstream (what mirrors' change feeds rely on)."""

from __future__ import annotations

import re
from typing import Any
import xmlrpc.client

import pytest

from tests.fakepypi import FakePyPI
from tests.fakepypi.httpclient import fetch


def proxy(server: FakePyPI, path: str = "/pypi") -> Any:
    return xmlrpc.client.ServerProxy(server.base_url + path, allow_none=True)


def raw_call(server: FakePyPI, method: str, *params: Any, path: str = "/pypi") -> tuple[int, str]:
    body = xmlrpc.client.dumps(params, method, allow_none=True).encode()
    reply = fetch(server.base_url + path, "POST", {"Content-Type": "text/xml"}, body)
    return reply.status, reply.text


def fault_of(call) -> xmlrpc.client.Fault:  # type: ignore[no-untyped-def]
    with pytest.raises(xmlrpc.client.Fault) as info:
        call()
    return info.value


def test_changelog_last_serial_and_since(fakepypi: FakePyPI) -> None:
    rpc = proxy(fakepypi)
    last = rpc.changelog_last_serial()
    assert last == fakepypi.last_serial
    rows = rpc.changelog_since_serial(0)
    assert [r[4] for r in rows] == list(range(1, last + 1))
    assert rows == fakepypi.journal(0)
    assert all(len(r) == 5 and isinstance(r[2], int) for r in rows)
    assert rpc.changelog_since_serial(last) == []
    assert [r[4] for r in rpc.changelog_since_serial(last - 3)] == [last - 2, last - 1, last]


def test_changelog_pages_across_the_cap(fakepypi_factory) -> None:
    server = fakepypi_factory(changelog_cap=7)
    rpc = proxy(server)
    collected: list[list] = []
    since = 0
    batches = 0
    while True:
        rows = rpc.changelog_since_serial(since)
        if not rows:
            break
        assert len(rows) <= 7
        assert all(r[4] > since for r in rows)
        assert [r[4] for r in rows] == sorted(r[4] for r in rows)
        collected += rows
        since = rows[-1][4]
        batches += 1
    assert batches == -(-server.last_serial // 7)
    assert [r[4] for r in collected] == list(range(1, server.last_serial + 1))
    server.set_xmlrpc(changelog_cap=1000)
    assert len(rpc.changelog_since_serial(0)) == server.last_serial


def test_nil_goes_out_as_nil_element(fakepypi: FakePyPI) -> None:
    status, text = raw_call(fakepypi, "changelog_since_serial", 0)
    assert status == 200
    assert "<nil/>" in text  # "create" rows have no version


def test_list_packages_with_serial(fakepypi: FakePyPI) -> None:
    packages = proxy(fakepypi).list_packages_with_serial()
    expected = {info["name"]: info["last_serial"] for info in fakepypi.projects().values()}
    assert packages == expected
    assert packages["dup.name"] > packages["Foo.Bar"]


def test_journal_actions_match_warehouse(fakepypi: FakePyPI) -> None:
    start = fakepypi.last_serial
    fakepypi.create_project("New.Thing")
    fakepypi.upload("New.Thing", "1.0", files=["sdist", "wheel", "manylinux"])
    fakepypi.yank("new-thing", "1.0", "bad")
    fakepypi.unyank("new_thing", "1.0")
    fakepypi.remove_file("New.Thing", "new_thing-1.0.tar.gz")
    fakepypi.remove_release("New.Thing", "1.0")
    fakepypi.remove_project("New.Thing")
    rows = proxy(fakepypi).changelog_since_serial(start)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("New.Thing", None, "create"),
        ("New.Thing", None, "add Owner fakeuser"),
        ("New.Thing", "1.0", "new release"),
        ("New.Thing", "1.0", "add source file new_thing-1.0.tar.gz"),
        ("New.Thing", "1.0", "add py3 file new_thing-1.0-py3-none-any.whl"),
        ("New.Thing", "1.0", "add py3 file new_thing-1.0-py3-none-manylinux_2_17_x86_64.whl"),
        ("New.Thing", "1.0", "yank release"),
        ("New.Thing", "1.0", "unyank release"),
        ("New.Thing", "1.0", "remove file new_thing-1.0.tar.gz"),
        ("New.Thing", "1.0", "remove release"),
        ("New.Thing", None, "remove project"),
    ]
    assert [r[4] for r in rows] == list(range(start + 1, start + 12))


def test_changelog_keeps_display_name_used_at_the_time(fakepypi: FakePyPI) -> None:
    rows = fakepypi.journal(0)
    dup = [r for r in rows if r[0].lower().replace("_", ".") == "dup.name"]
    assert {r[0] for r in dup} == {"Dup_Name", "dup.name"}
    removal = next(r for r in dup if r[3] == "remove project")
    assert removal[0] == "Dup_Name"
    assert all(r[0] == "dup.name" for r in dup if r[4] > removal[4])
    assert fakepypi.projects()["dup-name"]["last_serial"] == max(r[4] for r in dup)


@pytest.mark.parametrize("method", ["changelog", "package_releases", "release_urls", "list_packages",
                                    "release_data", "search"])
def test_disabled_methods_fault_32500(fakepypi: FakePyPI, method: str) -> None:
    fault = fault_of(lambda: getattr(proxy(fakepypi), method)("x"))
    assert fault.faultCode == -32500
    assert fault.faultString.startswith("RuntimeError: ")


def test_unknown_method_and_bad_arguments(fakepypi: FakePyPI) -> None:
    rpc = proxy(fakepypi)
    assert fault_of(lambda: rpc.no_such_method()).faultCode == -32601
    bad_type = fault_of(lambda: rpc.changelog_since_serial("12"))
    assert bad_type.faultCode == -32602 and bad_type.faultString.startswith("client error; ")
    assert fault_of(lambda: rpc.changelog_since_serial(True)).faultCode == -32602
    assert fault_of(lambda: rpc.changelog_since_serial()).faultCode == -32602
    assert fault_of(lambda: rpc.changelog_last_serial(1)).faultCode == -32602


def test_rate_limit(fakepypi_factory) -> None:
    server = fakepypi_factory(xmlrpc_rate_limit=3, xmlrpc_rate_window=120)
    rpc = proxy(server)
    for _ in range(3):
        rpc.changelog_last_serial()
    fault = fault_of(lambda: rpc.changelog_last_serial())
    assert fault.faultCode == -32500
    assert fault.faultString.startswith("HTTPTooManyRequests: ")
    seconds = int(re.search(r"Limit may reset in (\d+) seconds\.$", fault.faultString)[1])  # type: ignore[index]
    assert 0 < seconds <= 120
    server.set_xmlrpc(rate_limit=None)
    assert rpc.changelog_last_serial() == server.last_serial


@pytest.mark.parametrize("path", ["/pypi", "/pypi/", "/RPC2"])
def test_endpoint_paths(fakepypi: FakePyPI, path: str) -> None:
    assert proxy(fakepypi, path).changelog_last_serial() == fakepypi.last_serial


def test_xmlrpc_fault_and_404_modes(fakepypi_factory) -> None:
    faulting = fakepypi_factory(xmlrpc="fault")
    for call in (lambda: proxy(faulting).changelog_last_serial(),
                 lambda: proxy(faulting).changelog_since_serial(0),
                 lambda: proxy(faulting).list_packages_with_serial()):
        fault = fault_of(call)
        assert fault.faultCode == -32500 and fault.faultString.startswith("RuntimeError: ")
    gone = fakepypi_factory(xmlrpc="404")
    with pytest.raises(xmlrpc.client.ProtocolError) as info:
        proxy(gone).changelog_last_serial()
    assert info.value.errcode == 404
    gone.set_xmlrpc("on")
    assert proxy(gone).changelog_last_serial() == gone.last_serial


def test_lazy_index_changelog_is_synthesised_below_the_corpus(fakepypi_factory) -> None:
    server = fakepypi_factory(index_projects=1000, changelog_cap=50)
    rpc = proxy(server)
    lazy_rows = 4 * (1000 - 8)
    first = rpc.changelog_since_serial(0)
    assert [r[3] for r in first[:4]] == ["create", "add Owner fakeuser", "new release",
                                         "add py3 file lazy_pkg_0000000-1.0.0-py3-none-any.whl"]
    boundary = rpc.changelog_since_serial(lazy_rows - 2)
    assert [r[4] for r in boundary] == list(range(lazy_rows - 1, lazy_rows + 49))
    assert boundary[2][0] == "Foo.Bar" and boundary[2][3] == "create"
    packages = rpc.list_packages_with_serial()
    assert len(packages) == 1000 and packages["Lazy_Pkg.0000003"] == 16
    doc = fetch(server.base_url + "/pypi/lazy-pkg-0000003/json").json()
    assert doc["last_serial"] == 16 and doc["info"]["version"] == "1.0.0"
    wheel = doc["urls"][0]
    assert fetch(wheel["url"]).status == 200 and fetch(wheel["url"] + ".metadata").status == 200


def test_lagging_feed_answers_as_of_an_older_serial(fakepypi: FakePyPI) -> None:
    rpc = proxy(fakepypi)
    last = fakepypi.last_serial
    fakepypi.lag_xmlrpc(last - 2, calls=2)
    assert rpc.changelog_last_serial() == last - 2
    assert [r[4] for r in rpc.changelog_since_serial(last - 4)] == [last - 3, last - 2]
    assert rpc.changelog_last_serial() == last  # the two lagging answers are spent
    fakepypi.lag_xmlrpc(last - 1)
    assert [rpc.changelog_last_serial() for _ in range(3)] == [last - 1] * 3
    fakepypi.lag_xmlrpc(None)
    assert rpc.changelog_since_serial(last - 1) == fakepypi.journal(last - 1)
