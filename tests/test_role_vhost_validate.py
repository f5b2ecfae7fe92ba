"""The vhost template's own `validate:` keeps a broken vhost from replacing a working one.

The role's task (tasks/web.yml) runs through Ansible with only its destination moved into a test
directory: nginx -t judges the candidate inside a minimal configuration; a vhost it accepts is
written, one it rejects fails the task with nginx's own message and leaves the old file as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.role_render import ROLE_DIR, render_template, run_role_task

BROKEN = {"pypi_mirror_nginx_extra_directives": ["no_such_directive on;"]}


def vhost_task(dest: Path) -> dict[str, Any]:
    """The role's vhost template task, writing to `dest` (its handler notification dropped)."""
    tasks = yaml.safe_load((ROLE_DIR / "tasks" / "web.yml").read_text(encoding="utf-8"))
    [task] = [t for t in tasks if t.get("ansible.builtin.template", {}).get("src") == "nginx-vhost.conf.j2"]
    args = dict(task["ansible.builtin.template"])
    assert args.get("validate"), "the vhost template has no validate:"
    return {"name": task["name"], "ansible.builtin.template": {**args, "dest": str(dest)}}


def test_a_broken_vhost_never_replaces_a_working_one(tmp_path: Path) -> None:
    dest = tmp_path / "sites-available" / "pypi-mirror"
    dest.parent.mkdir()
    # nginx -t opens the vhost's log files: keep them out of this machine's /var/log.
    logs = {"pypi_mirror_nginx_access_log": str(tmp_path / "access.log"),
            "pypi_mirror_nginx_error_log": str(tmp_path / "error.log")}

    good = run_role_task(vhost_task(dest), **logs)
    assert good.returncode == 0, good.stdout + good.stderr
    written = dest.read_text(encoding="utf-8")
    assert written == render_template("nginx-vhost.conf.j2", **logs)

    broken = run_role_task(vhost_task(dest), **logs, **BROKEN)
    assert broken.returncode != 0
    assert "failed to validate" in broken.stdout, broken.stdout
    assert 'unknown directive \\"no_such_directive\\"' in broken.stdout, broken.stdout  # JSON-escaped
    assert dest.read_text(encoding="utf-8") == written, "the rejected vhost replaced the working one"
