"""The role's nginx vhost, rendered by Ansible from the role's defaults, run by a real nginx.

A real `pypi-mirror mirror` (configured by the role's own config template) syncs the fake upstream
into a tree; nginx serves it on 127.0.0.1 with the vhost exactly as the role renders it; real pip
installs from it. Negotiation, content types, caching headers, robots.txt and the state files'
invisibility are checked over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.nginx import (
    VHOST_TEMPLATE,
    NginxServer,
    nginx_factory,  # noqa: F401  (pytest fixture)
    nginx_test_config,
    vhost_variables,
    write_nginx_config,
)
from tests.support.role_render import prepare_renders, render_template

PIP_JSON = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
STATE_FILES = ["status", "state.json", "todo", "generation", "stale.json", "wrapper-state.json", ".lock"]


def get(url: str, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) without following redirects into errors."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            headers["vary"] = ", ".join(response.headers.get_all("Vary") or [])
            return response.status, headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    """Real pip with no configuration at all (no index but the one given, no cache)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-cache-dir", "--retries", "0", "--timeout", "10"],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )


def role_config(tmp_path: Path, master: str, **role_vars: Any) -> Path:
    """The role's /etc/pypi-mirror.conf for a mirror in tmp_path/mirror, written to tmp_path."""
    text = render_template(
        "pypi-mirror.conf.j2",
        pypi_mirror_directory=str(tmp_path / "mirror"),
        pypi_mirror_master=master,
        pypi_mirror_log_dir=str(tmp_path / "log"),
        pypi_mirror_metrics_file="",
        pypi_mirror_stale_backoff=0.01,
        **role_vars,
    )
    conf = tmp_path / "pypi-mirror.conf"
    conf.write_text(text, encoding="utf-8")
    (tmp_path / "log").mkdir(exist_ok=True)
    return conf


@pytest.fixture(scope="module")
def synced_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mirror tree synced by the real client from the fake upstream, with the role's config."""
    from tests.fakepypi.server import FakePyPI

    tmp_path = tmp_path_factory.mktemp("synced")
    upstream = FakePyPI().start()
    try:
        conf = role_config(tmp_path, upstream.base_url, pypi_mirror_json=True)
        result = subprocess.run(
            [str(Path(sys.executable).parent / "pypi-mirror"), "-c", str(conf), "mirror"],
            capture_output=True, text=True, timeout=120, check=False,
        )
    finally:
        upstream.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    directory = tmp_path / "mirror"
    assert (directory / "web" / "simple" / "foo-bar" / "index.v1_json").is_file()
    return directory


@pytest.fixture
def server(synced_mirror: Path, nginx_factory: Any) -> NginxServer:  # noqa: F811
    return nginx_factory(synced_mirror / "web")


#: Variable sets `nginx -t` must accept. Log paths are relative: nginx puts them under its prefix
#: (the test's work directory), so the renderings do not depend on a test's temporary directory.
VHOST_VARIABLE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "listen-and-names": {"pypi_mirror_nginx_listen": ["80", "[::]:80"],
                         "pypi_mirror_nginx_server_name": "a.example b.example"},
    "headers-and-extras": {"pypi_mirror_nginx_index_max_age": 30, "pypi_mirror_nginx_packages_max_age": 86400,
                           "pypi_mirror_nginx_robots_txt": 'User-agent: "quoted"\\\nAllow: /\n',
                           "pypi_mirror_nginx_extra_directives": ["client_max_body_size 1m;"]},
    "space-in-path": {"pypi_mirror_directory": "/srv/other mirror"},
}
RELATIVE_LOGS = {"pypi_mirror_nginx_access_log": "access.log", "pypi_mirror_nginx_error_log": "error.log"}
BROKEN_VHOST = {"pypi_mirror_nginx_extra_directives": ["no_such_directive on;"]}
# A web root that need not exist: nginx -t does not open it.
PLACEHOLDER_WEB_ROOT = Path("/srv/pypi-mirror/web")

prepare_renders(*[{**RELATIVE_LOGS, **overrides} for overrides in VHOST_VARIABLE_SETS.values()],
                vhost_variables(PLACEHOLDER_WEB_ROOT, 1, **BROKEN_VHOST))


@pytest.mark.parametrize("overrides", list(VHOST_VARIABLE_SETS.values()), ids=list(VHOST_VARIABLE_SETS))
def test_vhost_passes_nginx_t(tmp_path: Path, overrides: dict[str, Any]) -> None:
    """`nginx -t` accepts the vhost from the defaults and from other variable sets."""
    workdir = tmp_path / "conf"
    workdir.mkdir()
    vhost = workdir / "vhost.conf"
    vhost.write_text(render_template(VHOST_TEMPLATE, **RELATIVE_LOGS, **overrides))
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"pid {workdir}/nginx.pid;\nevents {{}}\nhttp {{\n include /etc/nginx/mime.types;\n include {vhost};\n}}\n"
    )
    result = nginx_test_config(conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    root = overrides.get("pypi_mirror_directory", "/srv/pypi-mirror") + "/web"
    assert f'root "{root}";' in vhost.read_text()


def test_nginx_t_rejects_a_broken_vhost(tmp_path: Path) -> None:
    """The check the tests (and the role's handler) rely on does fail on a bad directive."""
    conf = write_nginx_config(PLACEHOLDER_WEB_ROOT, tmp_path / "nginx", 1, **BROKEN_VHOST)
    result = nginx_test_config(conf)
    assert result.returncode != 0
    assert "no_such_directive" in result.stderr


def test_real_pip_installs_from_the_served_mirror(server: NginxServer, tmp_path: Path) -> None:
    index = server.base_url + "/simple/"
    target = tmp_path / "target"
    result = pip("install", "--no-deps", "--index-url", index, "--target", str(target), "Foo.Bar", "foo_bar-baz")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in target.glob("*.dist-info")) == [
        "foo_bar-1.2.0.dist-info", "foo_bar_baz-1.2.0.dist-info"]
    access = server.access_log.read_text()
    # pip asked for JSON first and got it; it fetched the wheel from /packages/.
    assert "GET /simple/foo-bar/ HTTP/1.1\" 200" in access
    assert "/packages/" in access and ".whl HTTP/1.1\" 200" in access


def test_json_by_negotiation_and_html_by_default(server: NginxServer) -> None:
    url = server.base_url + "/simple/foo-bar/"
    status, headers, body = get(url, PIP_JSON)
    assert status == 200
    assert headers["content-type"] == "application/vnd.pypi.simple.v1+json"
    assert json.loads(body)["name"] == "foo-bar"
    assert "Accept" in headers["vary"]

    status, headers, body = get(url)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"Links for Foo.Bar" in body

    status, headers, _ = get(url, "application/vnd.pypi.simple.v1+html")
    assert status == 200
    assert headers["content-type"].startswith("application/vnd.pypi.simple.v1+html")

    status, headers, body = get(server.base_url + "/simple/", "application/vnd.pypi.simple.v1+json")
    assert headers["content-type"] == "application/vnd.pypi.simple.v1+json"
    assert "foo-bar" in {p["name"].lower().replace(".", "-") for p in json.loads(body)["projects"]}


def test_json_api_pages_are_json(server: NginxServer) -> None:
    for path in ["/pypi/foo-bar/json", "/json/foo-bar"]:
        status, headers, body = get(server.base_url + path)
        assert status == 200, path
        assert headers["content-type"].startswith("application/json"), (path, headers)
        assert json.loads(body)["info"]["name"] == "Foo.Bar"
        assert headers["cache-control"] == "public, max-age=600"


def test_cache_headers(server: NginxServer, synced_mirror: Path) -> None:
    _, headers, _ = get(server.base_url + "/simple/foo-bar/")
    assert headers["cache-control"] == "public, max-age=600"
    wheel = next((synced_mirror / "web" / "packages").rglob("*.whl"))
    path = "/" + wheel.relative_to(synced_mirror / "web").as_posix()
    status, headers, body = get(server.base_url + path)
    assert status == 200
    assert body == wheel.read_bytes()
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-type"] == "application/octet-stream"


def test_robots_txt(server: NginxServer) -> None:
    status, headers, body = get(server.base_url + "/robots.txt")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert body == b"User-agent: *\nDisallow: /\n"


def test_redirect_without_trailing_slash_is_relative(server: NginxServer) -> None:
    status, headers, body = get(server.base_url + "/simple/foo-bar")  # urllib follows it
    assert status == 200 and b"Links for Foo.Bar" in body


@pytest.mark.parametrize("name", STATE_FILES)
def test_state_files_are_never_served(server: NginxServer, synced_mirror: Path, name: str) -> None:
    if name in {"status", "state.json", "generation"}:
        assert (synced_mirror / name).exists(), f"the sync should have written {name}"
    for path in [f"/{name}", f"/simple/../{name}", f"/%2e%2e/{name}", f"/web/{name}", f"/simple/..%2f{name}"]:
        status, _, _ = get(server.base_url + path)
        assert status in (400, 404), (path, status)


def test_symlink_out_of_the_web_root_is_not_followed(synced_mirror: Path, nginx_factory: Any) -> None:  # noqa: F811
    link = synced_mirror / "web" / "leak"
    link.symlink_to(synced_mirror / "status")
    try:
        server = nginx_factory(synced_mirror / "web")
        status, _, body = get(server.base_url + "/leak")
        assert status in (403, 404)
        assert body.strip() != (synced_mirror / "status").read_bytes().strip()
        # The switch for trees that symlink on purpose really turns the protection off.
        relaxed = nginx_factory(synced_mirror / "web", pypi_mirror_nginx_disable_symlinks=False)
        assert get(relaxed.base_url + "/leak")[0] == 200
    finally:
        link.unlink()


def test_hidden_files_are_not_served(synced_mirror: Path, nginx_factory: Any) -> None:  # noqa: F811
    hidden = synced_mirror / "web" / "simple" / ".partial.tmp"
    hidden.write_text("half-written")
    try:
        server = nginx_factory(synced_mirror / "web")
        assert get(server.base_url + "/simple/.partial.tmp")[0] == 404
    finally:
        hidden.unlink()


def test_html_only_tree_answers_json_clients_with_html(tmp_path: Path, nginx_factory: Any) -> None:  # noqa: F811
    """simple-format = HTML writes no index.v1_json: a JSON-first client (pip) still gets HTML."""
    page = tmp_path / "mirror" / "web" / "simple" / "only-html"
    page.mkdir(parents=True)
    (page / "index.html").write_text("<!DOCTYPE html><title>Links for only-html</title>")
    server = nginx_factory(tmp_path / "mirror" / "web")
    status, headers, body = get(server.base_url + "/simple/only-html/", PIP_JSON)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"Links for only-html" in body
