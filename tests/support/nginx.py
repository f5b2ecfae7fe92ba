"""Run a real nginx from the pypi_mirror role's vhost, rendered by Ansible.

Tests must exercise exactly what the role deploys, so nothing here re-states the vhost: Ansible
renders the role's own template with its defaults (tests/support/role_render.py), and a
throw-away nginx master runs it on 127.0.0.1 with every writable path inside a test work
directory (the vhost's log paths are relative, so nginx puts them under its prefix, the work
directory).

Usage::

    from tests.support.nginx import start_nginx

    with start_nginx(mirror_dir / "web", tmp_path / "nginx") as server:
        requests.get(server.base_url + "/simple/")

or the `nginx_factory` fixture (import it into a test module: `from tests.support.nginx import
nginx_factory`), which stops every server it started at teardown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.role_render import REPO_ROOT, ROLE_DIR, render_template, role_defaults

__all__ = ["REPO_ROOT", "ROLE_DIR", "VHOST_TEMPLATE", "NginxError", "NginxServer", "nginx_factory",
           "nginx_test_config", "role_defaults", "start_nginx", "vhost_variables", "write_nginx_config"]

NGINX = "/usr/sbin/nginx"
VHOST_TEMPLATE = "nginx-vhost.conf.j2"
#: The vhost's logs, relative to nginx's prefix (the work directory).
ACCESS_LOG, ERROR_LOG = "vhost.access.log", "vhost.error.log"

#: Rendering costs an ansible-playbook run: a vhost rendered for a port is reused by later servers
#: of the same web root and variables while no live server of ours holds that port.
_port_of_case: dict[str, int] = {}
_live_ports: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


MAIN_CONF = """\
# Throw-away nginx for tests: everything it writes stays in {workdir}.
{user_line}worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;

events {{
    worker_connections 128;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/temp/body;
    proxy_temp_path {workdir}/temp/proxy;
    fastcgi_temp_path {workdir}/temp/fastcgi;
    uwsgi_temp_path {workdir}/temp/uwsgi;
    scgi_temp_path {workdir}/temp/scgi;
    include {vhost};
}}
"""


class NginxError(RuntimeError):
    """nginx refused the configuration or did not come up."""


@dataclass
class NginxServer:
    """A running nginx master serving the role's vhost on 127.0.0.1:`port`."""

    port: int
    workdir: Path
    web_root: Path
    conf_path: Path
    vhost_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    @property
    def vhost_error_log(self) -> Path:
        return self.workdir / ERROR_LOG

    @property
    def access_log(self) -> Path:
        return self.workdir / ACCESS_LOG

    def stop(self) -> None:
        """Fast shutdown (SIGTERM), escalating to SIGKILL; safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        _live_ports.discard(self.port)

    def __enter__(self) -> NginxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def vhost_variables(web_root: Path, port: int, **role_overrides: Any) -> dict[str, Any]:
    """The role variables the test vhost for `web_root` on 127.0.0.1:`port` is rendered with."""
    return {
        "pypi_mirror_directory": str(web_root.parent),
        "pypi_mirror_nginx_listen": [f"127.0.0.1:{port}"],
        "pypi_mirror_nginx_server_name": "localhost",
        "pypi_mirror_nginx_access_log": ACCESS_LOG,
        "pypi_mirror_nginx_error_log": ERROR_LOG,
        **role_overrides,
    }


def write_nginx_config(web_root: Path, workdir: Path, port: int, **role_overrides: Any) -> Path:
    """Write the vhost (listening on 127.0.0.1:`port`) and a main nginx.conf into `workdir`.

    `web_root` must be `<directory>/web` (the on-disk layout): the vhost derives its root from
    `pypi_mirror_directory`. Returns the path of the main configuration.
    """
    web_root = Path(web_root).resolve()
    workdir = Path(workdir).resolve()
    if web_root.name != "web":
        raise ValueError(f"web_root must be <directory>/web, got {web_root}")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "temp").mkdir(exist_ok=True)
    vhost = workdir / "vhost.conf"
    vhost.write_text(render_template(VHOST_TEMPLATE, **vhost_variables(web_root, port, **role_overrides)),
                     encoding="utf-8")
    # Pytest's tmp dirs are 0700 root: as root the workers must run as root to read them.
    user_line = "user root;\n" if os.geteuid() == 0 else ""
    conf = workdir / "nginx.conf"
    conf.write_text(MAIN_CONF.format(workdir=workdir, vhost=vhost, user_line=user_line), encoding="utf-8")
    return conf


def nginx_test_config(conf: Path) -> subprocess.CompletedProcess[str]:
    """Run `nginx -t` on `conf` with its directory as prefix; nginx's verdict is in stderr."""
    workdir = conf.parent
    return subprocess.run(
        [NGINX, "-t", "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _wait_listening(process: subprocess.Popen[bytes], port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _port_for(case: str, fresh: bool) -> int:
    """The port already rendered for this case when no server of ours holds it, else a new one."""
    port = _port_of_case.get(case)
    if fresh or port is None or port in _live_ports:
        port = free_port()
        _port_of_case[case] = port
    return port


def _launch(conf: Path, port: int) -> tuple[subprocess.Popen[bytes] | None, str]:
    """Start nginx on `conf` (its directory is the prefix) and wait for `port`: (the process, "")
    once it listens, else (None, nginx's own words)."""
    workdir = conf.parent
    with open(workdir / "stderr.log", "wb") as stderr_file:
        process = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
            start_new_session=True,
        )
    if _wait_listening(process, port, time.monotonic() + 15):
        return process, ""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    error_log = workdir / "error.log"
    return None, ((workdir / "stderr.log").read_text(errors="replace")
                  + (error_log.read_text(errors="replace") if error_log.exists() else ""))


def start_nginx(web_root: Path, workdir: Path, **role_overrides: Any) -> NginxServer:
    """Render the role's vhost for `web_root`, check it with `nginx -t` and start nginx.

    `role_overrides` are role variables (e.g. `pypi_mirror_nginx_index_max_age=60`). Retries on
    another port when the chosen one was taken in between. Raises NginxError with nginx's message.
    """
    case = repr((str(Path(web_root).resolve()), sorted(role_overrides.items())))
    last_error = ""
    for attempt in range(5):
        port = _port_for(case, fresh=attempt > 0)
        conf = write_nginx_config(web_root, workdir, port, **role_overrides)
        checked = nginx_test_config(conf)
        if checked.returncode != 0:
            raise NginxError(f"nginx -t rejected the rendered vhost:\n{checked.stderr}")
        process, last_error = _launch(conf, port)
        if process is not None:
            _live_ports.add(port)
            return NginxServer(port=port, workdir=conf.parent, web_root=Path(web_root).resolve(), conf_path=conf,
                               vhost_path=conf.parent / "vhost.conf", process=process)
        if "Address already in use" not in last_error:
            break
    raise NginxError(f"nginx did not start:\n{last_error}")


@pytest.fixture
def nginx_factory(tmp_path: Path) -> Iterator[Callable[..., NginxServer]]:
    """Start nginx servers for a test (`nginx_factory(web_root, **role_vars)`); all stopped after."""
    servers: list[NginxServer] = []

    def start(web_root: Path, workdir: Path | None = None, **role_overrides: Any) -> NginxServer:
        workdir = workdir or tmp_path / f"nginx{len(servers)}"
        server = start_nginx(web_root, workdir, **role_overrides)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def start_nginx_vhost(render_vhost: Callable[[int], str], workdir: Path) -> NginxServer:
    """Start nginx on a hand-written vhost (`render_vhost(port)` -> text of the http-level include).

    For tests of nginx itself in front of something the role does not deploy yet (an object store
    as the backend of `proxy_pass`); the role's vhost goes through `start_nginx`.
    """
    workdir = Path(workdir).resolve()
    (workdir / "temp").mkdir(parents=True, exist_ok=True)
    user_line = "user root;\n" if os.geteuid() == 0 else ""
    conf, vhost = workdir / "nginx.conf", workdir / "vhost.conf"
    conf.write_text(MAIN_CONF.format(workdir=workdir, vhost=vhost, user_line=user_line), encoding="utf-8")
    last_error = ""
    for _attempt in range(5):
        port = free_port()
        vhost.write_text(render_vhost(port), encoding="utf-8")
        checked = nginx_test_config(conf)
        if checked.returncode != 0:
            raise NginxError(f"nginx -t rejected the vhost:\n{checked.stderr}")
        process, last_error = _launch(conf, port)
        if process is not None:
            return NginxServer(port=port, workdir=workdir, web_root=workdir, conf_path=conf, vhost_path=vhost,
                               process=process)
        if "Address already in use" not in last_error:
            break
    raise NginxError(f"nginx did not start:\n{last_error}")
