"""Render the pypi_mirror role's templates with plain jinja2 and run a real nginx from the vhost.

Tests must exercise exactly what the role deploys, so nothing here re-states the vhost: the role's
`defaults/main.yml` is loaded, templated values are resolved the way Ansible would (lazily, native
types), the role's own template is rendered, and a throw-away nginx master runs it on 127.0.0.1
with every writable path inside a test work directory.

Usage::

    from support.nginx import start_nginx

    with start_nginx(mirror_dir / "web", tmp_path / "nginx") as server:
        requests.get(server.base_url + "/simple/")

or the `nginx_factory` fixture (import it into a test module: `from support.nginx import
nginx_factory`), which stops every server it started at teardown.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nativetypes
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLE_DIR = REPO_ROOT / "roles" / "pypi_mirror"
NGINX = "/usr/sbin/nginx"
VHOST_TEMPLATE = "nginx-vhost.conf.j2"

#: Facts and magic variables a role template may use; tests override them like any other variable.
ANSIBLE_MAGIC_VARS: dict[str, Any] = {
    "ansible_playbook_python": sys.executable,
    "inventory_hostname": "mirror01.test",
    "playbook_dir": str(REPO_ROOT / "playbooks"),
    "role_path": str(ROLE_DIR),
}


def _hash_filter(value: Any, algorithm: str = "sha1") -> str:
    """Ansible's `hash` filter: hex digest of the string form of `value`."""
    return hashlib.new(algorithm, str(value).encode("utf-8")).hexdigest()


def _bool_filter(value: Any) -> bool:
    """Ansible's `bool` filter for the values an inventory can hold."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def _mandatory_filter(value: Any, msg: str | None = None) -> Any:
    """Ansible's `mandatory` filter: fail on an undefined value."""
    if isinstance(value, jinja2.Undefined):
        raise jinja2.UndefinedError(msg or "Mandatory variable not defined.")
    return value


def _install_filters(env: jinja2.Environment) -> jinja2.Environment:
    """Give a jinja2 environment the Ansible filters the role's templates and defaults use."""
    env.filters.update(hash=_hash_filter, bool=_bool_filter, mandatory=_mandatory_filter)
    return env


def role_defaults() -> dict[str, Any]:
    """The role's defaults/main.yml as written (unresolved)."""
    return yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text(encoding="utf-8"))


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def role_vars(**overrides: Any) -> dict[str, Any]:
    """Resolved variables of the role: defaults, magic variables, then `overrides` (highest).

    Templated values may reference each other in any order, as in Ansible; they are resolved
    to native types (an expression yielding a number is a number).
    """
    context: dict[str, Any] = {**ANSIBLE_MAGIC_VARS, **role_defaults(), **overrides}
    env = _install_filters(jinja2.nativetypes.NativeEnvironment(undefined=jinja2.StrictUndefined))

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and _has_template(value):
            return env.from_string(value).render(context)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    for _ in range(20):
        pending = [key for key, value in context.items() if _has_template(value)]
        if not pending:
            return context
        for key in pending:
            context[key] = resolve(context[key])
    raise ValueError(f"role variables do not resolve (cycle?): {pending}")


def render_role_template(name: str, **overrides: Any) -> str:
    """Render `roles/pypi_mirror/templates/<name>` as the template module would (trim_blocks)."""
    env = _install_filters(
        jinja2.Environment(
            loader=jinja2.FileSystemLoader(ROLE_DIR / "templates"),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            keep_trailing_newline=True,
        )
    )
    return env.get_template(name).render(role_vars(**overrides))


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
        return self.workdir / "vhost.error.log"

    @property
    def access_log(self) -> Path:
        return self.workdir / "vhost.access.log"

    def stop(self) -> None:
        """Fast shutdown (SIGTERM), escalating to SIGKILL; safe to call twice."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> NginxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def write_nginx_config(web_root: Path, workdir: Path, port: int, **role_overrides: Any) -> Path:
    """Render the vhost (listening on 127.0.0.1:`port`) and a main nginx.conf into `workdir`.

    `web_root` must be `<directory>/web` (the on-disk layout): the vhost derives its root from
    `pypi_mirror_directory`. Returns the path of the main configuration.
    """
    web_root = Path(web_root).resolve()
    workdir = Path(workdir).resolve()
    if web_root.name != "web":
        raise ValueError(f"web_root must be <directory>/web, got {web_root}")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "temp").mkdir(exist_ok=True)
    overrides: dict[str, Any] = {
        "pypi_mirror_directory": str(web_root.parent),
        "pypi_mirror_nginx_listen": [f"127.0.0.1:{port}"],
        "pypi_mirror_nginx_server_name": "localhost",
        "pypi_mirror_nginx_access_log": str(workdir / "vhost.access.log"),
        "pypi_mirror_nginx_error_log": str(workdir / "vhost.error.log"),
        **role_overrides,
    }
    vhost = workdir / "vhost.conf"
    vhost.write_text(render_role_template(VHOST_TEMPLATE, **overrides), encoding="utf-8")
    # Pytest's tmp dirs are 0700 root: as root the workers must run as root to read them.
    user_line = "user root;\n" if os.geteuid() == 0 else ""
    conf = workdir / "nginx.conf"
    conf.write_text(MAIN_CONF.format(workdir=workdir, vhost=vhost, user_line=user_line), encoding="utf-8")
    return conf


def nginx_test_config(conf: Path) -> subprocess.CompletedProcess[str]:
    """Run `nginx -t` on `conf`; the result carries nginx's own verdict in stderr."""
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


def start_nginx(web_root: Path, workdir: Path, **role_overrides: Any) -> NginxServer:
    """Render the role's vhost for `web_root`, check it with `nginx -t` and start nginx.

    `role_overrides` are role variables (e.g. `pypi_mirror_nginx_index_max_age=60`). Retries on
    another port when the chosen one was taken in between. Raises NginxError with nginx's message.
    """
    last_error = ""
    for _attempt in range(5):
        port = free_port()
        conf = write_nginx_config(web_root, workdir, port, **role_overrides)
        checked = nginx_test_config(conf)
        if checked.returncode != 0:
            raise NginxError(f"nginx -t rejected the rendered vhost:\n{checked.stderr}")
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
            return NginxServer(
                port=port,
                workdir=workdir,
                web_root=Path(web_root).resolve(),
                conf_path=conf,
                vhost_path=workdir / "vhost.conf",
                process=process,
            )
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        stderr = (workdir / "stderr.log").read_text(errors="replace")
        error_log = workdir / "error.log"
        last_error = stderr + (error_log.read_text(errors="replace") if error_log.exists() else "")
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
        with open(workdir / "stderr.log", "wb") as stderr_file:
            process = subprocess.Popen(
                [NGINX, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr_file,
                start_new_session=True,
            )
        if _wait_listening(process, port, time.monotonic() + 15):
            return NginxServer(port=port, workdir=workdir, web_root=workdir, conf_path=conf, vhost_path=vhost,
                               process=process)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        last_error = (workdir / "stderr.log").read_text(errors="replace")
        if (workdir / "error.log").exists():
            last_error += (workdir / "error.log").read_text(errors="replace")
        if "Address already in use" not in last_error:
            break
    raise NginxError(f"nginx did not start:\n{last_error}")
