"""Render the pypi_mirror role's templates through Ansible itself, not a re-implementation.

Template tests must judge exactly what the role deploys, so rendering happens in a real
`ansible-playbook` run on localhost (connection local), inside a throw-away role whose defaults,
vars and templates are the real role's files: the defaults are loaded at role-default
precedence, a test's variables are play variables above them (as inventory values would be), and
every filter, lazy reference between defaults and native type is Ansible's own. Templates go
through Ansible's template lookup, which tests/test_templates_render.py holds byte-for-byte equal
to what the template module writes. Ansible also reports what it resolved each role variable to,
so assertions compare against Ansible's values, not against a guess. `run_role_task` runs one
task of the role itself (e.g. the vhost template with its `validate:`) the same way.

An `ansible-playbook` run costs seconds, so cases are rendered in batches: test modules declare
the variable sets they need at import (`prepare_renders`), and the first test that asks for a
rendering gets every declared case rendered in one run (one play per case); a case asked for
later (e.g. with a test's own temporary paths) costs one more run. Results are cached for the
whole test session.

    text = render_template("cron.j2", inventory_hostname="mirror01.dfw")
    values = role_vars(inventory_hostname="mirror01.dfw")   # Ansible's values of the defaults
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLE_DIR = REPO_ROOT / "roles" / "pypi_mirror"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
#: The host a case renders for unless it names one (`inventory_hostname=...`).
DEFAULT_HOSTNAME = "mirror01.test"

#: What the throw-away role does for each case: the role's own templates rendered by Ansible's
#: template lookup (the engine and settings of the template module, without two module processes
#: per file: `render_with_template_module` and its test hold the two equal), and the role's
#: variables as Ansible resolved them. Both stay on the controller until one write per batch.
LOOKUP_TASKS = """\
---
- name: Render every template of pypi_mirror and record the role variables
  ansible.builtin.set_fact:
    _render_results: >-
      {{ _render_results | default({}) | combine({_render_case: {
           'files': dict(_render_templates | zip(query('ansible.builtin.template', *_render_templates))),
           'variables': dict(_render_names | zip(query('ansible.builtin.vars', *_render_names)))}}) }}
"""

#: The slow, literal path: the template module itself writes each file.
MODULE_TASKS = """\
---
- name: Render every template of pypi_mirror with the template module
  ansible.builtin.template:
    src: "{{ item }}"
    dest: "{{ _render_dest }}/{{ item }}"
    mode: "0644"
  loop: "{{ _render_templates }}"
"""

#: Collects every case's results from all hosts into one file (the batch's only module run).
WRITE_RESULTS_PLAY = {
    "name": "Write every case's results",
    "hosts": "localhost",
    "gather_facts": False,
    "tasks": [{"name": "Write the results", "ansible.builtin.copy": {
        "content": "{{ {} | combine(groups['all'] | map('extract', hostvars, '_render_results') | list) | to_json }}",
        "dest": "{{ _render_results_file }}",
        "mode": "0644"}}],
}


class RoleRenderError(RuntimeError):
    """ansible-playbook could not render a case; carries Ansible's own output."""


def role_defaults() -> dict[str, Any]:
    """The role's defaults/main.yml as written (templated values unresolved)."""
    return yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text(encoding="utf-8"))


def role_templates() -> tuple[str, ...]:
    """Every template the role ships."""
    return tuple(sorted(path.name for path in (ROLE_DIR / "templates").glob("*.j2")))


@dataclass(frozen=True)
class Rendered:
    """One case: each template's text as the role would write it, and the variables' values."""

    files: Mapping[str, str]
    variables: Mapping[str, Any]


def _case_key(overrides: Mapping[str, Any]) -> str:
    canonical = json.dumps(overrides, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class RoleRenderer:
    """Renders cases through ansible-playbook in batches and caches them (see the module doc)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._pending: dict[str, dict[str, Any]] = {}
        self._done: dict[str, Rendered] = {}
        self._lock = threading.Lock()
        self._runs = 0
        self._make_render_role()

    @property
    def runs(self) -> int:
        """How many ansible-playbook runs this renderer made (batching shows here)."""
        return self._runs

    def prepare(self, *cases: Mapping[str, Any]) -> None:
        """Declare cases to render in the next batch."""
        with self._lock:
            for overrides in cases:
                key = _case_key(overrides)
                if key not in self._done:
                    self._pending[key] = dict(overrides)

    def render(self, **overrides: Any) -> Rendered:
        """The case for `overrides` (role variables, or `inventory_hostname`), rendering it with
        every other declared case when it is not cached yet."""
        key = _case_key(overrides)
        with self._lock:
            if key not in self._done:
                self._pending[key] = dict(overrides)
                self._run_batch()
            return self._done[key]

    def render_with_template_module(self, dest: Path, **overrides: Any) -> dict[str, str]:
        """Every template written by `ansible.builtin.template` into `dest` (no cache, no batch)."""
        dest.mkdir(parents=True, exist_ok=True)
        variables = dict(overrides)
        hostname = str(variables.pop("inventory_hostname", DEFAULT_HOSTNAME))
        templates = list(role_templates())
        play = {"name": "template module", "hosts": hostname, "gather_facts": False,
                "vars": {**variables, "_render_dest": str(dest), "_render_templates": templates},
                "roles": ["pypi_mirror_render_module"]}
        with self._lock:
            self._ansible_playbook([play], [hostname])
        return {name: (dest / name).read_text(encoding="utf-8") for name in templates}

    def run_role_task(self, task: Mapping[str, Any], **overrides: Any) -> subprocess.CompletedProcess[str]:
        """Run one task (e.g. a task of the role with its `dest` moved into a test directory)
        inside a role with the real defaults, vars and templates; Ansible's verdict is returned,
        not raised."""
        role = self.workdir / "roles" / "pypi_mirror_task"
        variables = dict(overrides)
        hostname = str(variables.pop("inventory_hostname", DEFAULT_HOSTNAME))
        play = {"name": "one task of the role", "hosts": hostname, "gather_facts": False, "vars": variables,
                "roles": ["pypi_mirror_task"]}
        with self._lock:
            (role / "tasks" / "main.yml").write_text(yaml.safe_dump([dict(task)], sort_keys=False),
                                                     encoding="utf-8")
            return self._ansible_playbook([play], [hostname], check=False)

    def _make_render_role(self) -> None:
        """Throw-away roles whose defaults, vars and templates ARE the real role's (symlinks)."""
        for name, tasks in (("pypi_mirror_render", LOOKUP_TASKS), ("pypi_mirror_render_module", MODULE_TASKS),
                            ("pypi_mirror_task", "---\n")):
            role = self.workdir / "roles" / name
            (role / "defaults").mkdir(parents=True)
            (role / "tasks").mkdir()
            (role / "defaults" / "main.yml").symlink_to(ROLE_DIR / "defaults" / "main.yml")
            (role / "vars").symlink_to(ROLE_DIR / "vars")
            (role / "templates").symlink_to(ROLE_DIR / "templates")
            (role / "tasks" / "main.yml").write_text(tasks, encoding="utf-8")

    def _run_batch(self) -> None:
        batch, self._pending = self._pending, {}
        names = sorted(role_defaults())
        templates = list(role_templates())
        plays, hostnames = [], []
        for key, overrides in batch.items():
            variables = dict(overrides)
            hostname = str(variables.pop("inventory_hostname", DEFAULT_HOSTNAME))
            hostnames.append(hostname)
            plays.append({
                "name": f"case {key}",
                "hosts": hostname,
                "gather_facts": False,
                "vars": {**variables, "_render_case": key, "_render_templates": templates,
                         "_render_names": names},
                "roles": ["pypi_mirror_render"],
            })
        results_file = self.workdir / f"results{self._runs}.json"
        plays.append({**WRITE_RESULTS_PLAY, "vars": {"_render_results_file": str(results_file)}})
        self._ansible_playbook(plays, hostnames)
        results = json.loads(results_file.read_text(encoding="utf-8"))
        for key in batch:
            self._done[key] = Rendered(files=results[key]["files"], variables=results[key]["variables"])

    def _ansible_playbook(self, plays: list[dict[str, Any]], hostnames: list[str],
                          check: bool = True) -> subprocess.CompletedProcess[str]:
        """One ansible-playbook run of `plays` against local-connection hosts `hostnames`;
        `check`: raise RoleRenderError when it fails."""
        run = self.workdir / f"run{self._runs}"
        self._runs += 1
        run.mkdir()
        local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        (run / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": dict.fromkeys(hostnames, local)}}),
                                       encoding="utf-8")
        (run / "render.yml").write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
               "ANSIBLE_ROLES_PATH": str(self.workdir / "roles"), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_LOCAL_TEMP": str(run / "tmp")}
        result = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(run / "hosts.yml"), str(run / "render.yml")],
                                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        if check and result.returncode != 0:
            raise RoleRenderError(f"ansible-playbook could not render the role's templates:\n"
                                  f"{result.stdout[-6000:]}{result.stderr[-3000:]}")
        return result


_renderer: RoleRenderer | None = None


def renderer() -> RoleRenderer:
    """The session's renderer (its work directory is removed when the interpreter exits)."""
    global _renderer
    if _renderer is None:
        workdir = Path(tempfile.mkdtemp(prefix="pypi-mirror-role-render-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        _renderer = RoleRenderer(workdir)
    return _renderer


def prepare_renders(*cases: Mapping[str, Any]) -> None:
    """Declare variable sets a test module will render, so they share one ansible-playbook run."""
    renderer().prepare(*cases)


def render_template(name: str, **overrides: Any) -> str:
    """`roles/pypi_mirror/templates/<name>` as the role writes it, with `overrides` as variables."""
    return renderer().render(**overrides).files[name]


def role_vars(**overrides: Any) -> dict[str, Any]:
    """Every role default as Ansible resolves it with `overrides` (which are included too)."""
    return {**overrides, **renderer().render(**overrides).variables}


def run_role_task(task: Mapping[str, Any], **overrides: Any) -> subprocess.CompletedProcess[str]:
    """Run one task in the role's context (defaults, vars, templates); see RoleRenderer.run_role_task."""
    return renderer().run_role_task(task, **overrides)
