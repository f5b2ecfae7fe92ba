"""The template tests' renderer is Ansible, and its fast path writes what the template module writes.

tests/support/role_render.py renders the role's templates with Ansible's template lookup on the
controller (one ansible-playbook run for many cases); the role itself uses the template module.
Here one case goes through both and must come out byte for byte the same, and the variables the
renderer reports must be Ansible's own resolution of the role defaults.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.support.role_render import renderer, role_templates, role_vars

CASE = {
    "inventory_hostname": "mirror01.gra1",
    "pypi_mirror_master": "https://upstream.example",
    "pypi_mirror_purge_key": "k",
    "pypi_mirror_verify_enabled": True,
    "pypi_mirror_blocklist_platforms": ["windows", "py2"],
    "pypi_mirror_nginx_extra_directives": ["client_max_body_size 1m;"],
    "pypi_mirror_nginx_enabled": "yes",
}


def test_lookup_rendering_equals_the_template_module(tmp_path: Path) -> None:
    by_module = renderer().render_with_template_module(tmp_path / "module", **CASE)
    by_lookup = renderer().render(**CASE).files
    assert sorted(by_module) == sorted(by_lookup) == list(role_templates())
    for name in role_templates():
        assert by_lookup[name] == by_module[name], name
        assert by_module[name].endswith("\n"), name


def test_variables_are_ansibles_resolution_of_the_defaults() -> None:
    """Templated defaults come back resolved by Ansible's own filters, in native types."""
    values = role_vars(**CASE)
    # The hash and int(base=16) filters of the offset default, computed here independently.
    expected_offset = int(hashlib.sha256(b"mirror01.gra1").hexdigest()[:8], 16) % 15
    assert values["pypi_mirror_cron_offset"] == expected_offset
    assert values["pypi_mirror_purge_key_file"] == "/etc/pypi-mirror.purge-key"
    assert values["pypi_mirror_nginx_access_log"] == "/var/log/nginx/pypi-mirror/access.log"
    assert values["pypi_mirror_workers"] == 3 and values["pypi_mirror_nginx_listen"] == ["80"]
    assert role_vars()["pypi_mirror_purge_key_file"] == ""
