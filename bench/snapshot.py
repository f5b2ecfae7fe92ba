"""Our client as the role installs it: a frozen copy of the package, pip-installed into its own venv.

Why a copy: the package is edited while benchmarks run (other work goes on in the same tree),
and a run that picks up a half-edited file measures nothing. Why a venv and a real install: the
role installs the package non-editable into a virtualenv and cron runs its console scripts
(``pypi-mirror-run``, ``pypi-mirror``); bandersnatch is installed the same way in its root. The
runtime dependencies come from the copied ``pyproject.toml``, so they follow the package.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class SnapshotError(RuntimeError):
    """The snapshot could not be installed (one line naming the step)."""


@dataclass(frozen=True)
class Snapshot:
    venv: Path
    fingerprint: str  # "snapshot of mirror_tool/ sha256 <12 hex>"

    def script(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def package_digest(package: Path) -> str:
    """sha256 over the package's file names and bytes (caches aside)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(package.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def install_snapshot(source: Path, work: Path) -> Snapshot:
    """Copy ``source`` (the mirror_tool package) with the repo's pyproject.toml and install it
    into ``work/ours-venv`` with its dependencies."""
    repo = source.parent
    root = work / "snapshot"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(source, root / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copyfile(repo / "pyproject.toml", root / "pyproject.toml")
    readme = repo / "README.md"
    (root / "README.md").write_text(readme.read_text() if readme.exists() else "snapshot\n")
    venv = work / "ours-venv"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    steps = []
    if not (venv / "bin" / "python").exists():
        steps.append([sys.executable, "-m", "venv", str(venv)])
    steps.append(pip + ["setuptools>=68", "wheel"])
    steps.append(pip + ["--no-build-isolation", str(root)])  # the dependencies pyproject names
    steps.append(pip + ["--no-build-isolation", "--no-deps", "--force-reinstall", "--no-cache-dir", str(root)])
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            raise SnapshotError(f"{' '.join(step[:5])}: {tail[0]}")
    shutil.rmtree(root / "build", ignore_errors=True)
    fingerprint = f"snapshot of {source.name}/ sha256 {package_digest(root / source.name)}"
    return Snapshot(venv, fingerprint)
