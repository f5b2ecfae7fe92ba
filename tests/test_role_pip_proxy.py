"""The role installs through `pypi_mirror_proxy` too: its own pip step reaches the index via the proxy.

The role's pip task (tasks/install.yml, `pypi_mirror_install_source: index`) runs through Ansible
with only its virtualenv moved into a test directory. The index is a `HostileUpstream` that accepts
connections only from tinyproxy's outgoing address, so the install succeeds only if pip went
through the proxy the variable names.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import yaml

from tests.support.forward_proxy import OUTGOING, ForwardProxy
from tests.support.hostile_upstream import HostileUpstream
from tests.support.role_render import ROLE_DIR, run_role_task

NAME = "wire_proxy_probe"


def tiny_wheel() -> bytes:
    """A pure wheel of one empty module, with a RECORD pip accepts."""
    files = {f"{NAME}/__init__.py": b"",
             f"{NAME}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: 1.0\n".encode(),
             f"{NAME}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                            b"Tag: py3-none-any\n"}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{NAME}-1.0.dist-info/RECORD,,")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{NAME}-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return buf.getvalue()


def pip_task(venv: Path) -> dict[str, Any]:
    """The role's index/wheelhouse pip task, installing into `venv` (its check-mode guard dropped)."""
    tasks = yaml.safe_load((ROLE_DIR / "tasks" / "install.yml").read_text(encoding="utf-8"))
    [task] = [t for t in tasks if t.get("name") == "Install mirror_tool from a package index or wheelhouse"]
    task = {k: v for k, v in task.items() if k != "when"}
    task["ansible.builtin.pip"] = {**task["ansible.builtin.pip"], "virtualenv": str(venv)}
    return task


def test_the_roles_pip_install_goes_through_pypi_mirror_proxy(tmp_path: Path) -> None:
    wheel = tiny_wheel()
    filename = f"{NAME}-1.0-py3-none-any.whl"
    with ForwardProxy(tmp_path / "proxy") as proxy, \
            HostileUpstream(host="127.0.0.3", only_from=OUTGOING) as index:
        page = f'<a href="/files/{filename}#sha256={hashlib.sha256(wheel).hexdigest()}">{filename}</a>'
        index.ok(f"/simple/{NAME.replace('_', '-')}/", page.encode(), {"Content-Type": "text/html"})
        index.ok(f"/files/{filename}", wheel)
        venv = tmp_path / "venv"
        result = run_role_task(pip_task(venv), pypi_mirror_install_source="index",
                               pypi_mirror_index_url=index.url("/simple/"), pypi_mirror_package_spec=NAME,
                               pypi_mirror_proxy=proxy.url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert any((venv / "lib").glob(f"python3*/site-packages/{NAME}/__init__.py"))
        assert f"/files/{filename}" in index.paths()
        assert {seen.peer for seen in index.seen} == {OUTGOING}  # every request came through the proxy
