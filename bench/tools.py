"""The two contestants behind one interface: our ``pypi-mirror`` and bandersnatch 8.2.0.

Both get the same upstream URL, the same ``workers`` / ``verifiers`` and the same mirror options
(``json = true``, release files, hash compare, ``simple-format = ALL``), so they do the same work.
Each tool keeps its mirrors in its own directory; bandersnatch's live inside its chroot (under
``/bench``), which is on the same filesystem as ours.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
import sys
from dataclasses import dataclass
from pathlib import Path

from .measure import RunResult, run_measured
from .peer import Peer

SIMPLE_ROOT_GENERATION = "5"  # both tools' on-disk layout generation


@dataclass
class MirrorOptions:
    master: str
    workers: int = 3
    timeout: float = 60.0
    json: bool = True


def shared_mirror_keys(opts: MirrorOptions) -> str:
    """The `[mirror]` keys both tools read with the same meaning, so both runs are configured alike."""
    return (
        f"workers = {opts.workers}\n"
        f"verifiers = {opts.workers}\n"
        f"timeout = {opts.timeout}\n"
        "global-timeout = 18000\n"
        "stop-on-error = false\n"
        f"json = {'true' if opts.json else 'false'}\n"
        "release-files = true\n"
        "compare-method = hash\n"
        "simple-format = ALL\n"
        "hash-index = false\n"
    )


class Tool:
    """One contestant. ``label`` is what the results table calls it."""

    label = "?"
    short = "?"

    def __init__(self, home: Path) -> None:
        self.home = home  # host path where this tool's mirrors and configs live

    def mirror_dir(self, name: str) -> Path:
        return self.home / name

    def write_config(self, name: str, opts: MirrorOptions) -> Path:
        raise NotImplementedError

    def mirror(self, name: str, opts: MirrorOptions, log: Path) -> RunResult:
        raise NotImplementedError

    def verify(self, name: str, opts: MirrorOptions, log: Path) -> RunResult:
        raise NotImplementedError

    def seed_caught_up(self, name: str, serial: int, now: float) -> None:
        """Make ``name`` an empty mirror that believes it is current at ``serial``."""
        raise NotImplementedError

    def clone(self, src: str, dst: str) -> None:
        """Full copy (not hard links: a tool that rewrites a file in place must not touch src)."""
        target = self.mirror_dir(dst)
        if target.exists():
            self.remove(dst)
        subprocess.run(["cp", "-a", str(self.mirror_dir(src)), str(target)], check=True)

    def remove(self, name: str) -> None:
        """Move the tree aside; `purge_retired` deletes it later, between scenario groups.

        Why not delete now: the work dir is ext4 without a journal here, and its inode allocator
        skips inodes freed moments ago (`recently_deleted` in the kernel's ext4 code). Deleting
        a 20,000-file tree right before a run made over half of the next run's CPU time that
        scan (perf), for whichever tool ran next: noise that no real mirror host has.
        """
        tree = self.mirror_dir(name)
        if not tree.exists():
            return
        retired = self.home / ".retired"
        retired.mkdir(parents=True, exist_ok=True)
        tree.rename(retired / f"{name}-{time.monotonic_ns()}")

    def purge_retired(self) -> None:
        shutil.rmtree(self.home / ".retired", ignore_errors=True)


class Ours(Tool):
    label = "ours (pypi-mirror)"
    short = "ours"

    def __init__(self, home: Path, python: str = sys.executable, source: Path | None = None) -> None:
        super().__init__(home)
        self.python = python
        self.home.mkdir(parents=True, exist_ok=True)
        self.run_dir: Path | None = None  # cwd of our runs: where the snapshot's package is
        self.fingerprint = "working tree"
        self.install_note = "run from the work tree (editable install)"
        if source is not None:
            self.snapshot(source)

    def snapshot(self, source: Path) -> None:
        """Freeze ``source`` (the mirror_tool package) and install it like production does.

        Why: the package is edited while benchmarks run, and a run that picks up a half-edited
        file measures nothing; and the role installs it non-editable into its own virtualenv, as
        bandersnatch is installed into its own. So the package (with the repo's pyproject.toml)
        is copied, then pip-installed into ``bench/.work/ours-venv`` next to its runtime
        dependencies only. If that install fails, the copy is run from its directory with the
        bench's interpreter instead (sys.path[0] is the cwd, ahead of the editable install).
        """
        root = self.home.parent / "snapshot"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(source, root / source.name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        digest = hashlib.sha256()
        for path in sorted((root / source.name).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
        self.run_dir = root
        self.fingerprint = f"snapshot of {source.name}/ sha256 {digest.hexdigest()[:12]}"
        problem = self._install_venv(source.parent, root)
        if problem:
            self.install_note = (f"could not install the snapshot into its own venv ({problem}); "
                                 "ran it from the copy with the bench's interpreter")
        else:
            self.install_note = "installed (non-editable) into its own venv, like the role does"

    def _install_venv(self, repo: Path, root: Path) -> str:
        venv = self.home.parent / "ours-venv"
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
               "--disable-pip-version-check"]
        for name in ("pyproject.toml", "README.md"):
            if (repo / name).exists():
                shutil.copyfile(repo / name, root / name)
            elif name == "README.md":
                (root / name).write_text("snapshot\n")
        steps = []
        if not (venv / "bin" / "python").exists():
            steps.append([sys.executable, "-m", "venv", str(venv)])
        steps.append(pip + ["requests>=2.31,<3", "packaging>=23", "setuptools>=68", "wheel"])
        steps.append(pip + ["--no-deps", "--no-build-isolation", "--force-reinstall", str(root)])
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
                return f"{' '.join(step[:4])}: {tail[0]}"
        shutil.rmtree(root / "build", ignore_errors=True)
        self.python = str(venv / "bin" / "python")
        self.run_dir = venv
        return ""

    def write_config(self, name: str, opts: MirrorOptions) -> Path:
        path = self.home / f"{name}.conf"
        path.write_text(
            "[mirror]\n"
            f"directory = {self.mirror_dir(name)}\n"
            f"master = {opts.master}\n"
            + shared_mirror_keys(opts)
        )
        return path

    def _argv(self, conf: Path, *args: str) -> list[str]:
        return [self.python, "-m", "mirror_tool", "-c", str(conf), *args]

    def mirror(self, name: str, opts: MirrorOptions, log: Path) -> RunResult:
        return run_measured(self._argv(self.write_config(name, opts), "mirror"), log, cwd=self.run_dir)

    def verify(self, name: str, opts: MirrorOptions, log: Path) -> RunResult:
        return run_measured(self._argv(self.write_config(name, opts), "verify"), log, cwd=self.run_dir)

    def seed_caught_up(self, name: str, serial: int, now: float) -> None:
        import json

        root = self.mirror_dir(name)
        self.remove(name)
        (root / "web/simple").mkdir(parents=True)
        (root / "web/packages").mkdir(parents=True)
        (root / "generation").write_text(SIMPLE_ROOT_GENERATION)
        (root / "status").write_text(str(serial))
        (root / "state.json").write_text(json.dumps({
            "upstream_serial": serial, "last_success": now, "last_run_start": now,
            "last_run_end": now, "last_reconcile": now, "failing": {},
        }))


class Theirs(Tool):
    label = "bandersnatch 8.2.0"
    short = "bandersnatch"

    def __init__(self, peer: Peer) -> None:
        super().__init__(peer.root / "bench")
        self.peer = peer
        self.home.mkdir(parents=True, exist_ok=True)

    def _inside(self, path: Path) -> str:
        return "/" + str(path.relative_to(self.peer.root))

    def write_config(self, name: str, opts: MirrorOptions, master: str | None = None) -> Path:
        path = self.home / f"{name}.conf"
        path.write_text(
            "[mirror]\n"
            f"directory = {self._inside(self.mirror_dir(name))}\n"
            f"master = {master or opts.master}\n"
            "allow-non-https = true\n"
            + shared_mirror_keys(opts)
            + "storage-backend = filesystem\n"
            "\n[plugins]\nenabled =\n"
        )
        return path

    def mirror(self, name: str, opts: MirrorOptions, log: Path) -> RunResult:
        conf = self._inside(self.write_config(name, opts))
        return run_measured(self.peer.command(conf, "mirror"), log, env=self.peer.chroot_env())

    def verify(self, name: str, opts: MirrorOptions, log: Path) -> RunResult:
        # bandersnatch's verify builds its HTTP client without honouring allow-non-https, so it
        # refuses an http:// master even when it needs no fetch. A clean tree needs none (no
        # --json-update, no bad file), so the same loopback address is given with https://
        # purely to pass that check; a fetch, if one happened, would fail and show in the log.
        https_master = opts.master.replace("http://", "https://", 1)
        conf = self._inside(self.write_config(f"{name}-verify", opts, master=https_master))
        # the verify config must point at the same tree
        text = (self.home / f"{name}-verify.conf").read_text().replace(
            self._inside(self.mirror_dir(f"{name}-verify")), self._inside(self.mirror_dir(name)))
        (self.home / f"{name}-verify.conf").write_text(text)
        return run_measured(self.peer.command(conf, "verify"), log, env=self.peer.chroot_env())

    def seed_caught_up(self, name: str, serial: int, now: float) -> None:
        root = self.mirror_dir(name)
        self.remove(name)
        (root / "web/simple").mkdir(parents=True)
        (root / "web/packages").mkdir(parents=True)
        (root / "generation").write_text(SIMPLE_ROOT_GENERATION)
        (root / "status").write_text(str(serial))
