"""Static checks of the pypi_mirror role, the playbook and the inventories (no test hosts needed).

ansible-lint (production profile, offline, the committed .ansible-lint), syntax checks against
both inventories, argument specs that document every default, the inventories' shape, and the
role's preflight run for real on this controller (connection local, check mode, preflight tag
only: asserts and read-only probes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.nginx import REPO_ROOT, ROLE_DIR, role_defaults

BIN = Path(sys.executable).parent
REGIONS = ["bhs1", "ca_ymq_1", "dfw", "gra1", "iad", "nyj01", "ord", "sjc1"]


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_ansible_lint_production_profile_offline() -> None:
    config = yaml.safe_load((REPO_ROOT / ".ansible-lint").read_text())
    assert config["profile"] == "production" and config["offline"] is True
    result = run(str(BIN / "ansible-lint"), "--offline", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


@pytest.mark.parametrize("inventory", ["inventory/production", "inventory/local"])
def test_site_playbook_syntax(inventory: str) -> None:
    result = run(str(BIN / "ansible-playbook"), "--syntax-check", "playbooks/site.yml", "-i", inventory)
    assert result.returncode == 0, result.stdout + result.stderr


def inventory(name: str) -> dict:
    result = run(str(BIN / "ansible-inventory"), "-i", f"inventory/{name}", "--list")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_inventory_has_one_group_per_region() -> None:
    inv = inventory("production")
    assert sorted(inv["pypi_mirrors"]["children"]) == sorted(REGIONS)
    for region in REGIONS:
        assert inv[region]["hosts"], region
        assert (REPO_ROOT / "inventory/production/group_vars" / f"{region}.yml").is_file(), region
    hostvars = inv["_meta"]["hostvars"]
    assert len(hostvars) == len(REGIONS)
    for host, values in hostvars.items():
        # The shipped master is the placeholder the role's preflight refuses.
        assert values["pypi_mirror_master"].endswith(".invalid"), host


def test_local_inventory_targets_the_test_containers() -> None:
    inv = inventory("local")
    assert sorted(inv["pypi_mirrors"]["children"]) == ["dfw", "gra1", "iad"]
    assert inv["upstreams"]["hosts"] == ["upstream"]
    hostvars = inv["_meta"]["hostvars"]
    for host in ["mirror01.dfw", "mirror01.gra1", "mirror01.iad"]:
        assert hostvars[host]["ansible_connection"] == "containers.podman.podman"
        assert hostvars[host]["pypi_mirror_master"] == "http://upstream:8080"
    assert "pypi_mirror_master" not in hostvars["upstream"]


def test_argument_specs_document_every_default() -> None:
    specs = yaml.safe_load((ROLE_DIR / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = role_defaults()
    assert sorted(specs) == sorted(defaults)
    python_types = {"bool": bool, "int": int, "float": (int, float), "str": str, "path": str, "list": list}
    for name, value in defaults.items():
        spec = specs[name]
        assert spec["description"], name
        if isinstance(value, str) and "{{" in value:
            assert "default" not in spec, name  # computed: described, not listed
            continue
        assert spec["default"] == value, name
        assert isinstance(value, python_types[spec["type"]]), (name, spec["type"], value)
        if "choices" in spec:
            assert value in spec["choices"], name


def test_tasks_are_split_by_phase_and_tagged() -> None:
    main = yaml.safe_load((ROLE_DIR / "tasks/main.yml").read_text())
    phases = [task["ansible.builtin.import_tasks"] for task in main]
    assert phases == ["preflight.yml", "install.yml", "configure.yml", "web.yml", "schedule.yml",
                      "logrotate.yml", "metrics.yml"]
    for task in main:
        phase = task["ansible.builtin.import_tasks"].removesuffix(".yml")
        assert "pypi_mirror" in task["tags"] and f"pypi_mirror_{phase}" in task["tags"]


def preflight(tmp_path: Path, **extra_vars: object) -> subprocess.CompletedProcess[str]:
    """Run only the role's preflight on this controller (read-only) with `extra_vars`."""
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"pypi_mirrors": {"hosts": {"controller": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"pypi_mirror_directory": str(tmp_path / "data"), **extra_vars}))
    return run(str(BIN / "ansible-playbook"), "playbooks/site.yml", "-i", str(inv), "--check",
               "--tags", "pypi_mirror_preflight", "-e", f"@{extra}", "-e", "ansible_become=false")


def test_preflight_passes_on_this_debian_host(tmp_path: Path) -> None:
    result = preflight(tmp_path, pypi_mirror_master="http://127.0.0.1:9")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout


def test_preflight_refuses_the_placeholder_master(tmp_path: Path) -> None:
    result = preflight(tmp_path)
    assert result.returncode != 0
    assert "pypi_mirror_master must be the http(s) URL of your upstream" in result.stdout


def test_preflight_refuses_a_filesystem_with_a_subdirectory_limit(tmp_path: Path) -> None:
    """Declaring this controller's filesystem type unsupported shows the ext3-style refusal."""
    fstype = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", str(tmp_path)],
                            capture_output=True, text=True, check=True).stdout.strip()
    result = preflight(tmp_path, pypi_mirror_master="http://127.0.0.1:9", pypi_mirror_unsupported_fstypes=[fstype])
    assert result.returncode != 0
    assert "Too many links" in result.stdout and f"is on {fstype}" in result.stdout
