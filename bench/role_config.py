"""The config file our client runs with in the bench: the role's own template, rendered by Ansible.

Why not a hand-written file: a bench must time what cron runs, and cron runs
``pypi-mirror-run -c /etc/pypi-mirror.conf`` with the file the role renders (``[mirror]`` and
``[wrapper]`` sections, the role's defaults for every key the bench does not set). Rendering the
template with Ansible's ``template`` module and the role's ``defaults/main.yml`` gives exactly that
file, and keeps giving it when the template or the defaults change.

Ansible costs ~3 s per render, so each distinct set of role variables is rendered once with
placeholder paths and URL, and the placeholders are replaced per mirror tree.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROLE = REPO / "roles" / "pypi_mirror"
TEMPLATE = ROLE / "templates" / "pypi-mirror.conf.j2"
ANSIBLE = Path(sys.executable).parent / "ansible"
PLACEHOLDERS = {
    "directory": "/bench-placeholder-directory",
    "master": "http://bench-placeholder-master.invalid",
    "logs": "/bench-placeholder-logs",
    "metrics": "/bench-placeholder-metrics",
}
#: `[mirror]` keys bandersnatch reads with the same meaning: its config takes them from ours.
SHARED_KEYS = ("workers", "verifiers", "timeout", "global-timeout", "stop-on-error", "json",
               "release-files", "compare-method", "simple-format", "hash-index", "storage-backend")


class RoleConfigError(RuntimeError):
    """The role's template could not be rendered (one line naming the cause)."""


def render_template(overrides: dict) -> str:
    """The role's config template rendered by Ansible with the role defaults and ``overrides``."""
    with tempfile.TemporaryDirectory(prefix="bench-role-") as tmp:
        extra = Path(tmp) / "vars.json"
        extra.write_text(json.dumps(overrides))
        dest = Path(tmp) / "pypi-mirror.conf"
        argv = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local", "-o",
                "-m", "ansible.builtin.template", "-a", f"src={TEMPLATE} dest={dest}",
                "-e", f"@{ROLE / 'defaults' / 'main.yml'}", "-e", f"@{extra}",
                "-e", f"ansible_python_interpreter={sys.executable}"]
        env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "False",
               "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO, env=env)
        if proc.returncode != 0 or not dest.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["?"]
            raise RoleConfigError(f"ansible could not render {TEMPLATE.name}: {tail[0][:300]}")
        return dest.read_text()


class RoleConfigs:
    """Rendered role configs, one Ansible run per distinct set of variables."""

    def __init__(self, variables: dict) -> None:
        self.variables = dict(variables)  # role variables every config shares (workers, json, ...)
        self._rendered: dict[str, str] = {}

    def text(self, *, directory: Path, master: str, logs: Path, metrics: Path, **extra: object) -> str:
        """The config for one mirror tree; ``extra`` are more role variables (e.g. the reconcile interval)."""
        overrides = {**self.variables, **extra,
                     "pypi_mirror_directory": PLACEHOLDERS["directory"],
                     "pypi_mirror_master": PLACEHOLDERS["master"],
                     "pypi_mirror_log_dir": PLACEHOLDERS["logs"],
                     "pypi_mirror_metrics_dir": PLACEHOLDERS["metrics"]}
        key = json.dumps(overrides, sort_keys=True)
        if key not in self._rendered:
            self._rendered[key] = render_template(overrides)
        text = self._rendered[key]
        for name, value in (("directory", str(directory)), ("master", master), ("logs", str(logs)),
                            ("metrics", str(metrics))):
            text = text.replace(PLACEHOLDERS[name], value)
        check_rendered(text, {"directory": str(directory), "master": master,
                      "workers": str(self.variables.get("pypi_mirror_workers", ""))})
        return text


def check_rendered(text: str, expected: dict[str, str]) -> None:
    """RoleConfigError when the rendered file does not say what the bench asked for (a role
    variable renamed under the bench would otherwise be ignored without a word)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    for key, value in expected.items():
        got = parser.get("mirror", key, fallback=None)
        if value and got != value:
            raise RoleConfigError(f"the rendered config has [mirror] {key} = {got!r}, the bench asked for {value!r}")
    if not parser.has_section("wrapper"):
        raise RoleConfigError("the rendered config has no [wrapper] section")


def shared_mirror_keys(config_text: str) -> str:
    """``key = value`` lines of the `[mirror]` keys both tools share, as ours' config sets them."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(config_text)
    return "".join(f"{key} = {parser.get('mirror', key)}\n" for key in SHARED_KEYS
                   if parser.has_option("mirror", key))
