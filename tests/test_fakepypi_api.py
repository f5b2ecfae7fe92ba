"""Origin semantics of the fake upstream: simple API (HTML + JSON), JSON API, files, corpus."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import zipfile

import pytest

from tests.fakepypi import FakePyPI
from tests.fakepypi.httpclient import fetch
from tests.fakepypi.names import normalize

V1_JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"


def simple_json(server: FakePyPI, path: str) -> dict:
    reply = fetch(server.base_url + path, headers={"Accept": V1_JSON})
    assert reply.status == 200, path
    assert reply.headers["Content-Type"] == V1_JSON
    return reply.json()  # type: ignore[return-value]


# ------------------------------------------------------------------ corpus
def test_default_corpus_has_every_special_case(fakepypi: FakePyPI) -> None:
    projects = fakepypi.projects()
    assert set(projects) == {"foo-bar", "foo-bar-baz", "dup-name", "pre-release", "yanked-pkg", "plat-wheels",
                             "empty-project", "needs-py"}
    assert projects["dup-name"]["name"] == "dup.name"
    assert projects["empty-project"]["releases"] == {}
    assert "2.0.0rc1" in projects["pre-release"]["releases"]
    assert projects["yanked-pkg"]["releases"]["9.0.0"]["yanked_reason"] == "broken build"
    assert projects["foo-bar-baz"]["releases"]["1.0.0"]["yanked"] is True
    tags = {f["filename"].rsplit("-", 1)[1] for f in projects["plat-wheels"]["releases"]["1.0.0"]["files"]}
    assert tags == {"any.whl", "manylinux_2_17_x86_64.whl", "win_amd64.whl", "macosx_11_0_arm64.whl"} | {
        "1.0.0.tar.gz"}
    assert projects["needs-py"]["releases"]["5.0.0"]["requires_python"] == "<3"


def test_corpus_is_deterministic_per_seed_and_sized(fakepypi_factory) -> None:
    a = fakepypi_factory(projects=12, releases=2, files=3, file_size=5000, seed=7)
    b = fakepypi_factory(projects=12, releases=2, files=3, file_size=5000, seed=7)
    c = fakepypi_factory(projects=12, releases=2, files=3, file_size=5000, seed=8)
    pa, pb, pc = a.projects(), b.projects(), c.projects()
    assert _strip_urls(pa) == _strip_urls(pb)
    assert _strip_urls(pa) != _strip_urls(pc)
    assert len(pa) == 12
    generic = [p for k, p in pa.items() if k not in {"foo-bar", "foo-bar-baz", "dup-name", "pre-release",
                                                        "yanked-pkg", "plat-wheels", "empty-project", "needs-py"}]
    assert len(generic) == 4 and all(len(p["releases"]) == 2 for p in generic)
    names = [p["name"] for p in generic]
    assert any(n != n.lower() for n in names) and any("." in n or "_" in n for n in names)
    for project in generic:
        for rel in project["releases"].values():
            kinds = sorted(f["packagetype"] for f in rel["files"])
            assert kinds == ["bdist_wheel", "bdist_wheel", "sdist"]
            for f in rel["files"]:
                if f["packagetype"] == "bdist_wheel":
                    assert f["size"] == 5000
                else:
                    assert abs(f["size"] - 5000) < 100


def _strip_urls(projects: dict) -> str:
    return re.sub(r"http://127\.0\.0\.1:\d+", "", json.dumps(projects, sort_keys=True))


# --------------------------------------------------------------- simple API
def test_simple_index_html_and_json(fakepypi: FakePyPI) -> None:
    html_reply = fetch(fakepypi.base_url + "/simple/")
    assert html_reply.status == 200
    assert html_reply.headers["Content-Type"].startswith("text/html")
    assert html_reply.headers["Vary"] == "Accept"
    assert int(html_reply.headers["X-PyPI-Last-Serial"]) == fakepypi.last_serial
    assert '<meta name="pypi:repository-version" content="1.4">' in html_reply.text
    assert '<a href="/simple/foo-bar-baz/">foo_bar-baz</a>' in html_reply.text
    doc = simple_json(fakepypi, "/simple/")
    assert doc["meta"] == {"api-version": "1.4", "_last-serial": fakepypi.last_serial}
    by_name = {p["name"]: p["_last-serial"] for p in doc["projects"]}
    assert len(by_name) == 8
    assert by_name["Foo.Bar"] == fakepypi.projects()["foo-bar"]["last_serial"]
    assert "Empty.Project" in by_name and "Dup_Name" not in by_name


def test_simple_project_html(fakepypi: FakePyPI) -> None:
    reply = fetch(fakepypi.base_url + "/simple/needs-py/")
    assert reply.status == 200 and reply.headers["Vary"] == "Accept"
    serial = fakepypi.projects()["needs-py"]["last_serial"]
    assert reply.headers["X-PyPI-Last-Serial"] == str(serial)
    text = reply.text
    assert f"<!--SERIAL {serial}-->" in text
    assert '<meta name="pypi:repository-version" content="1.4">' in text
    assert 'data-requires-python="&gt;=3.8"' in text and 'data-requires-python="&lt;3"' in text
    anchors = re.findall(r"<a ([^>]*)>([^<]+)</a>", text)
    assert len(anchors) == 8
    for attrs, filename in anchors:
        href = re.search(r'href="([^"]+)"', attrs)[1]  # type: ignore[index]
        url, _, fragment = href.partition("#sha256=")
        assert url.startswith(fakepypi.base_url + "/packages/") and url.endswith("/" + filename)
        assert fragment == hashlib.sha256(fakepypi.file_bytes(filename)).hexdigest()
        b2 = hashlib.blake2b(fakepypi.file_bytes(filename), digest_size=32).hexdigest()
        assert f"/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{filename}" in url
        if filename.endswith(".whl"):
            meta = fetch(url + ".metadata").body
            expect = f'sha256={hashlib.sha256(meta).hexdigest()}'
            assert f'data-core-metadata="{expect}"' in attrs and f'data-dist-info-metadata="{expect}"' in attrs
        else:
            assert "data-core-metadata" not in attrs and "data-dist-info-metadata" not in attrs


def test_simple_project_yanked_in_html_and_json(fakepypi: FakePyPI) -> None:
    text = fetch(fakepypi.base_url + "/simple/yanked-pkg/").text
    assert text.count('data-yanked="broken build"') == 2
    text = fetch(fakepypi.base_url + "/simple/foo-bar-baz/").text
    assert text.count('data-yanked=""') == 2
    doc = simple_json(fakepypi, "/simple/yanked-pkg/")
    yanked = {f["filename"]: f["yanked"] for f in doc["files"]}
    assert yanked["yanked_pkg-9.0.0.tar.gz"] == "broken build"
    assert yanked["yanked_pkg-1.0.0.tar.gz"] is False
    doc = simple_json(fakepypi, "/simple/foo-bar-baz/")
    assert {f["filename"]: f["yanked"] for f in doc["files"]}["foo_bar_baz-1.0.0.tar.gz"] is True


def test_simple_project_json(fakepypi: FakePyPI) -> None:
    reply = fetch(fakepypi.base_url + "/simple/foo-bar/", headers={"Accept": V1_JSON})
    doc = reply.json()
    serial = fakepypi.projects()["foo-bar"]["last_serial"]
    assert reply.headers["X-PyPI-Last-Serial"] == str(serial) and reply.headers["Vary"] == "Accept"
    assert doc["meta"] == {"api-version": "1.4", "_last-serial": serial}
    assert doc["name"] == "foo-bar" and doc["versions"] == ["1.0.0", "1.1.0", "1.2.0"]
    assert len(doc["files"]) == 6
    for f in doc["files"]:
        data = fakepypi.file_bytes(f["filename"])
        assert f["hashes"] == {"sha256": hashlib.sha256(data).hexdigest()}
        assert f["size"] == len(data) and f["url"].endswith("/" + f["filename"])
        assert f["requires-python"] is None and f["yanked"] is False
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", f["upload-time"])
        if f["filename"].endswith(".whl"):
            meta = fetch(f["url"] + ".metadata").body
            assert f["core-metadata"] == {"sha256": hashlib.sha256(meta).hexdigest()}
            assert f["data-dist-info-metadata"] == f["core-metadata"]
        else:
            assert f["core-metadata"] is False


def test_empty_project_simple_page_is_empty(fakepypi: FakePyPI) -> None:
    assert simple_json(fakepypi, "/simple/empty-project/")["files"] == []
    assert "<a " not in fetch(fakepypi.base_url + "/simple/empty-project/").text


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "text/html"),
    ("*/*", "text/html"),
    ("text/html", "text/html"),
    ("application/json", "text/html"),
    (V1_HTML, V1_HTML),
    (V1_JSON, V1_JSON),
    ("application/vnd.pypi.simple.latest+json", V1_JSON),
    (f"{V1_JSON}, {V1_HTML}; q=0.1, text/html; q=0.01", V1_JSON),
    (f"{V1_JSON};q=0.2, text/html;q=0.5", "text/html"),
    (f"text/html;q=0.5, {V1_JSON};q=0.9", V1_JSON),
    (f"{V1_JSON};q=0, */*;q=0.1", "text/html"),
])
def test_content_negotiation(fakepypi: FakePyPI, accept: str | None, expected: str) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    for path in ("/simple/", "/simple/foo-bar/"):
        reply = fetch(fakepypi.base_url + path, headers=headers)
        assert reply.status == 200
        assert reply.headers["Content-Type"].split(";")[0] == expected
        assert reply.headers["Vary"] == "Accept"
        if expected == V1_JSON:
            assert reply.json()["meta"]["api-version"] == "1.4"  # type: ignore[index]
        else:
            assert reply.text.startswith("<!DOCTYPE html>")


def test_format_query_parameter_overrides_accept(fakepypi: FakePyPI) -> None:
    reply = fetch(fakepypi.base_url + f"/simple/foo-bar/?format={V1_JSON}", headers={"Accept": "text/html"})
    assert reply.headers["Content-Type"] == V1_JSON


def test_html_only_upstream_never_serves_json(fakepypi_factory) -> None:
    server = fakepypi_factory(simple_json=False)
    reply = fetch(server.base_url + "/simple/foo-bar/", headers={"Accept": V1_JSON})
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")


# ---------------------------------------------------------- redirects / 404
@pytest.mark.parametrize(("path", "location"), [
    ("/simple/Foo.Bar/", "/simple/foo-bar/"),
    ("/simple/foo_bar-baz/", "/simple/foo-bar-baz/"),
    ("/simple/foo-bar", "/simple/foo-bar/"),
    ("/simple/Nonexistent_Thing/", "/simple/nonexistent-thing/"),
    ("/pypi/Foo.Bar/json", "/pypi/foo-bar/json"),
    ("/pypi/Foo.Bar/1.0.0/json", "/pypi/foo-bar/1.0.0/json"),
])
def test_non_normalized_names_redirect(fakepypi: FakePyPI, path: str, location: str) -> None:
    reply = fetch(fakepypi.base_url + path)
    assert reply.status == 301
    assert reply.headers["Location"] == location


@pytest.mark.parametrize("path", ["/simple/no-such-project/", "/packages/aa/bb/" + "c" * 60 + "/x-1.0.tar.gz",
                                  "/nothing/here"])
def test_unknown_pages_404(fakepypi: FakePyPI, path: str) -> None:
    assert fetch(fakepypi.base_url + path).status == 404


@pytest.mark.parametrize("path", ["/pypi/no-such-project/json", "/pypi/empty-project/json",
                                  "/pypi/foo-bar/9.9.9/json"])
def test_json_api_404(fakepypi: FakePyPI, path: str) -> None:
    reply = fetch(fakepypi.base_url + path)
    assert reply.status == 404
    assert reply.json() == {"message": "Not Found"}


# ---------------------------------------------------------------- JSON API
def test_json_api_project(fakepypi: FakePyPI) -> None:
    reply = fetch(fakepypi.base_url + "/pypi/needs-py/json")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    doc = reply.json()
    serial = fakepypi.projects()["needs-py"]["last_serial"]
    assert reply.headers["X-PyPI-Last-Serial"] == str(serial) and doc["last_serial"] == serial
    info = doc["info"]
    assert info["name"] == "Needs_Py" and info["version"] == "5.0.0" and info["requires_python"] == "<3"
    assert info["yanked"] is False and info["yanked_reason"] is None and info["summary"]
    assert sorted(doc["releases"]) == ["1.0.0", "1.1.0", "1.2.0", "5.0.0"]
    assert {f["filename"] for f in doc["urls"]} == {"needs_py-5.0.0-py3-none-any.whl", "needs_py-5.0.0.tar.gz"}
    for f in doc["releases"]["1.0.0"]:
        data = fakepypi.file_bytes(f["filename"])
        b2 = hashlib.blake2b(data, digest_size=32).hexdigest()
        assert f["url"] == f"{fakepypi.base_url}/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{f['filename']}"
        assert f["digests"] == {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(),
                                "blake2b_256": b2}
        assert f["size"] == len(data) and f["requires_python"] == ">=3.8"
        assert f["packagetype"] == ("sdist" if f["filename"].endswith(".tar.gz") else "bdist_wheel")
        assert f["python_version"] == ("source" if f["packagetype"] == "sdist" else "py3")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", f["upload_time"])
        assert f["upload_time_iso_8601"].startswith(f["upload_time"]) and f["upload_time_iso_8601"].endswith("Z")
        assert f["yanked"] is False and f["yanked_reason"] is None
        if f["packagetype"] == "bdist_wheel":
            assert f["core-metadata"]["sha256"] == hashlib.sha256(fetch(f["url"] + ".metadata").body).hexdigest()
        else:
            assert f["core-metadata"] is False


def test_json_api_latest_skips_prereleases_and_yanked(fakepypi: FakePyPI) -> None:
    assert fetch(fakepypi.base_url + "/pypi/pre-release/json").json()["info"]["version"] == "1.2.0"
    doc = fetch(fakepypi.base_url + "/pypi/yanked-pkg/json").json()
    assert doc["info"]["version"] == "1.2.0"
    assert all(f["yanked"] and f["yanked_reason"] == "broken build" for f in doc["releases"]["9.0.0"])


def test_json_api_release(fakepypi: FakePyPI) -> None:
    reply = fetch(fakepypi.base_url + "/pypi/yanked-pkg/9.0.0/json")
    doc = reply.json()
    assert reply.status == 200 and "releases" not in doc
    assert doc["info"]["version"] == "9.0.0" and doc["info"]["yanked"] is True
    assert doc["info"]["yanked_reason"] == "broken build"
    assert doc["last_serial"] == int(reply.headers["X-PyPI-Last-Serial"])
    assert len(doc["urls"]) == 2


def test_core_metadata_switch_off(fakepypi_factory) -> None:
    server = fakepypi_factory(core_metadata=False)
    doc = fetch(server.base_url + "/simple/foo-bar/", headers={"Accept": V1_JSON}).json()
    assert all("core-metadata" not in f and "data-dist-info-metadata" not in f for f in doc["files"])
    html = fetch(server.base_url + "/simple/foo-bar/").text
    assert "data-core-metadata" not in html and "data-dist-info-metadata" not in html
    api = fetch(server.base_url + "/pypi/foo-bar/json").json()
    assert all("core-metadata" not in f for f in api["urls"])
    wheel = next(f for f in doc["files"] if f["filename"].endswith(".whl"))
    assert fetch(wheel["url"] + ".metadata").status == 404
    assert fetch(wheel["url"]).status == 200


# ------------------------------------------------------------------- files
def test_wheel_is_valid_and_metadata_matches(fakepypi: FakePyPI) -> None:
    info = fakepypi.projects()["foo-bar"]["releases"]["1.2.0"]["files"]
    wheel = next(f for f in info if f["filename"].endswith(".whl"))
    reply = fetch(wheel["url"])
    assert reply.status == 200
    assert int(reply.headers["Content-Length"]) == len(reply.body) == wheel["size"] == 2048
    assert hashlib.sha256(reply.body).hexdigest() == wheel["sha256"]
    with zipfile.ZipFile(io.BytesIO(reply.body)) as zf:
        names = zf.namelist()
        assert "foo_bar/__init__.py" in names
        metadata = zf.read("foo_bar-1.2.0.dist-info/METADATA")
        assert b"Name: Foo.Bar\n" in metadata and b"Version: 1.2.0\n" in metadata
        assert b"Tag: py3-none-any" in zf.read("foo_bar-1.2.0.dist-info/WHEEL")
        import base64
        for line in zf.read("foo_bar-1.2.0.dist-info/RECORD").decode().splitlines():
            path, digest, size = line.split(",")
            if path.endswith("RECORD"):
                assert digest == "" and size == ""
                continue
            data = zf.read(path)
            expect = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expect}" and int(size) == len(data)
    meta_reply = fetch(wheel["url"] + ".metadata")
    assert meta_reply.status == 200 and meta_reply.body == metadata
    assert int(meta_reply.headers["Content-Length"]) == len(metadata)
    assert hashlib.sha256(metadata).hexdigest() == wheel["metadata_sha256"]


def test_sdist_is_real_tarball(fakepypi: FakePyPI) -> None:
    info = fakepypi.projects()["needs-py"]["releases"]["1.0.0"]["files"]
    sdist = next(f for f in info if f["filename"].endswith(".tar.gz"))
    body = fetch(sdist["url"]).body
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tf:
        names = tf.getnames()
        assert "needs_py-1.0.0/PKG-INFO" in names and "needs_py-1.0.0/pyproject.toml" in names
        pkg_info = tf.extractfile("needs_py-1.0.0/PKG-INFO").read()  # type: ignore[union-attr]
    assert b"Requires-Python: >=3.8" in pkg_info
    assert fetch(sdist["url"] + ".metadata").status == 404


def test_range_requests(fakepypi: FakePyPI) -> None:
    f = fakepypi.projects()["foo-bar"]["releases"]["1.0.0"]["files"][0]
    data = fakepypi.file_bytes(f["filename"])
    for header, expected, content_range in [
        ("bytes=0-9", data[:10], f"bytes 0-9/{len(data)}"),
        ("bytes=100-", data[100:], f"bytes 100-{len(data) - 1}/{len(data)}"),
        ("bytes=-7", data[-7:], f"bytes {len(data) - 7}-{len(data) - 1}/{len(data)}"),
        (f"bytes=10-{len(data) + 50}", data[10:], f"bytes 10-{len(data) - 1}/{len(data)}"),
    ]:
        reply = fetch(f["url"], headers={"Range": header})
        assert reply.status == 206, header
        assert reply.body == expected and reply.headers["Content-Range"] == content_range
        assert int(reply.headers["Content-Length"]) == len(expected)
    reply = fetch(f["url"], headers={"Range": f"bytes={len(data)}-"})
    assert reply.status == 416 and reply.headers["Content-Range"] == f"bytes */{len(data)}"
    full = fetch(f["url"])
    assert full.status == 200 and full.headers["Accept-Ranges"] == "bytes"


def test_head_has_headers_without_body(fakepypi: FakePyPI) -> None:
    f = fakepypi.projects()["foo-bar"]["releases"]["1.0.0"]["files"][0]
    reply = fetch(f["url"], "HEAD")
    assert reply.status == 200 and reply.body == b"" and int(reply.headers["Content-Length"]) == f["size"]
    reply = fetch(fakepypi.base_url + "/simple/foo-bar/", "HEAD")
    assert reply.status == 200 and reply.body == b"" and reply.headers["X-PyPI-Last-Serial"]


def test_removed_file_is_gone(fakepypi: FakePyPI) -> None:
    f = fakepypi.projects()["foo-bar"]["releases"]["1.0.0"]["files"][0]
    fakepypi.remove_file("Foo.Bar", f["filename"])
    assert fetch(f["url"]).status == 404
    assert f["filename"] not in fetch(fakepypi.base_url + "/simple/foo-bar/").text


# --------------------------------------------------------------- mutations
def test_mutations_show_up_in_pages_and_serials(fakepypi: FakePyPI) -> None:
    before = fakepypi.last_serial
    result = fakepypi.upload("Foo.Bar", "3.0.0", platforms=["win"], requires_python=">=3.9", file_size=4096)
    assert result["serial"] == fakepypi.last_serial == before + 4  # new release + 3 files
    assert {f["filename"] for f in result["files"]} == {
        "foo_bar-3.0.0-py3-none-any.whl", "foo_bar-3.0.0.tar.gz", "foo_bar-3.0.0-py3-none-win_amd64.whl"}
    assert all(f["size"] == 4096 for f in result["files"] if f["filename"].endswith(".whl"))
    doc = simple_json(fakepypi, "/simple/foo-bar/")
    assert doc["meta"]["_last-serial"] == fakepypi.last_serial and "3.0.0" in doc["versions"]
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/json").json()["info"]["version"] == "3.0.0"

    fakepypi.yank("Foo.Bar", "3.0.0", "oops")
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/json").json()["info"]["version"] == "1.2.0"
    assert 'data-yanked="oops"' in fetch(fakepypi.base_url + "/simple/foo-bar/").text
    fakepypi.unyank("Foo.Bar", "3.0.0")
    assert "data-yanked" not in fetch(fakepypi.base_url + "/simple/foo-bar/").text
    fakepypi.remove_release("Foo.Bar", "3.0.0")
    assert "3.0.0" not in simple_json(fakepypi, "/simple/foo-bar/")["versions"]
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/3.0.0/json").status == 404
    fakepypi.remove_project("Foo.Bar")
    assert fetch(fakepypi.base_url + "/simple/foo-bar/").status == 404
    assert fetch(fakepypi.base_url + "/pypi/foo-bar/json").status == 404
    assert "Foo.Bar" not in {p["name"] for p in simple_json(fakepypi, "/simple/")["projects"]}
    fakepypi.create_project("FOO_bar")
    assert simple_json(fakepypi, "/simple/foo-bar/")["files"] == []
    assert "FOO_bar" in {p["name"] for p in simple_json(fakepypi, "/simple/")["projects"]}


def test_mutation_errors(fakepypi: FakePyPI) -> None:
    with pytest.raises(KeyError):
        fakepypi.yank("no-such", "1.0")
    with pytest.raises(KeyError):
        fakepypi.remove_release("Foo.Bar", "9.9")
    with pytest.raises(ValueError):
        fakepypi.create_project("foo.bar")  # exists (normalizes to foo-bar)
    with pytest.raises(ValueError):
        fakepypi.upload("Foo.Bar", "1.0.0", files=["wheel"])  # filename already exists


def test_names_normalize_per_pep_503() -> None:
    assert normalize("Foo.Bar") == "foo-bar"
    assert normalize("foo_bar-baz") == "foo-bar-baz"
    assert normalize("A__B..c--D") == "a-b-c-d"


def test_concurrent_reads_during_uploads_stay_consistent(fakepypi: FakePyPI) -> None:
    import threading

    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", fakepypi.port, timeout=10)
        while not stop.is_set():
            conn.request("GET", "/simple/foo-bar/", headers={"Accept": V1_JSON})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                errors.append(f"status {resp.status}")
                continue
            doc = json.loads(body)
            if doc["meta"]["_last-serial"] != int(resp.headers["X-PyPI-Last-Serial"]):
                errors.append("serial header disagrees with body")
        conn.close()

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(15):
            fakepypi.upload("Foo.Bar", f"10.{i}.0")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert errors == []
    assert len(simple_json(fakepypi, "/simple/foo-bar/")["versions"]) == 18


def test_public_url_is_used_for_file_urls(fakepypi_factory) -> None:
    server = fakepypi_factory(public_url="http://upstream:8080/")
    doc = fetch(server.base_url + "/pypi/foo-bar/json").json()
    assert all(f["url"].startswith("http://upstream:8080/packages/") for f in doc["urls"])
    html = fetch(server.base_url + "/simple/foo-bar/").text
    assert 'href="http://upstream:8080/packages/' in html
