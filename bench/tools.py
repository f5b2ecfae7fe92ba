"""The two contestants behind one interface: our client as cron runs it, and bandersnatch 8.2.0.

Ours runs ``pypi-mirror-run -c CONF`` (the command in the role's cron entry, wrapper included)
with the config the role's template renders; ``verify`` and ``status`` are ``pypi-mirror -c CONF
verify|status`` as the role's weekly cron entry and an operator run them. bandersnatch runs
``bandersnatch -c CONF mirror|verify`` in its chroot with the `[mirror]` keys both tools share
copied from ours' rendered file, so both get the same ``workers``, ``verifiers``, ``json`` and the
rest. The bench talks to both only through their command lines and config files.

Each tool keeps its trees below its own home; bandersnatch's live inside its root (under
``/bench``), on the same filesystem as ours.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .measure import RunResult, run_measured
from .peer import Peer
from .role_config import RoleConfigs, shared_mirror_keys
from .snapshot import Snapshot


class Tool:
    """One contestant. ``short`` names it in logs and tables."""

    short = "?"
    label = "?"

    def __init__(self, home: Path) -> None:
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)

    def tree(self, name: str) -> Path:
        """Host path of the mirror tree ``name``."""
        return self.home / "trees" / name

    def conf_path(self, name: str) -> Path:
        return self.home / "conf" / f"{name}.conf"

    def configure(self, name: str, tree: Path, master: str, **role_vars: object) -> Path:
        """Write the config ``name`` for ``tree`` and upstream ``master``; returns its host path."""
        raise NotImplementedError

    def mirror(self, conf: Path, log: Path) -> RunResult:
        raise NotImplementedError

    def verify(self, conf: Path, log: Path) -> RunResult:
        raise NotImplementedError

    def status(self, conf: Path, log: Path) -> RunResult | None:
        """None: the tool has no status command."""
        return None

    def sync(self, conf: Path, projects: list[str], log: Path) -> RunResult:
        """Sync the named projects now (untimed helper for building trees)."""
        raise NotImplementedError

    def remove(self, name: str) -> None:
        """Move a tree aside; ``purge_retired`` deletes it later, between scenario groups.

        Why not delete now: the work dir is ext4 without a journal here, and its inode allocator
        skips inodes freed moments ago (`recently_deleted` in the kernel's ext4 code). Deleting
        a 20,000-file tree right before a run made over half of the next run's CPU time that
        scan (perf), for whichever tool ran next: noise that no real mirror host has.
        """
        tree = self.tree(name)
        if not tree.exists():
            return
        retired = self.home / ".retired"
        retired.mkdir(parents=True, exist_ok=True)
        tree.rename(retired / f"{name}-{time.monotonic_ns()}")

    def has_retired(self) -> bool:
        return any(self._purgeable())

    def _purgeable(self) -> list[Path]:
        retired = self.home / ".retired"
        return [p for p in retired.iterdir() if not p.name.startswith("large-")] if retired.exists() else []

    def purge_retired(self) -> list[Path]:
        """Delete retired trees, except replaced large mirrors (deleting one takes up to an hour
        on this volume): those are returned, for the operator to delete when convenient."""
        for path in self._purgeable():
            shutil.rmtree(path, ignore_errors=True)
        retired = self.home / ".retired"
        return sorted(retired.iterdir()) if retired.exists() else []


class Ours(Tool):
    short = "ours"
    label = "ours (pypi-mirror-run)"

    def __init__(self, home: Path, snapshot: Snapshot, configs: RoleConfigs) -> None:
        super().__init__(home)
        self.snapshot = snapshot
        self.configs = configs
        self.last_config_text = ""

    def configure(self, name: str, tree: Path, master: str, **role_vars: object) -> Path:
        text = self.configs.text(directory=tree, master=master, logs=self.home / "logs" / name,
                                 metrics=self.home / "metrics" / name, **role_vars)
        for sub in ("logs", "metrics"):
            (self.home / sub / name).mkdir(parents=True, exist_ok=True)
        path = self.conf_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.last_config_text = text
        return path

    def mirror(self, conf: Path, log: Path) -> RunResult:
        return run_measured([self.snapshot.script("pypi-mirror-run"), "-c", str(conf)], log)

    def verify(self, conf: Path, log: Path) -> RunResult:
        return run_measured([self.snapshot.script("pypi-mirror"), "-c", str(conf), "verify"], log)

    def status(self, conf: Path, log: Path) -> RunResult | None:
        return run_measured([self.snapshot.script("pypi-mirror"), "-c", str(conf), "status"], log)

    def sync(self, conf: Path, projects: list[str], log: Path) -> RunResult:
        return run_measured([self.snapshot.script("pypi-mirror"), "-c", str(conf), "sync", *projects], log)


class Theirs(Tool):
    short = "bandersnatch"
    label = "bandersnatch 8.2.0"

    def __init__(self, peer: Peer, ours: Ours) -> None:
        super().__init__(peer.root / "bench")
        self.peer = peer
        self.ours = ours  # the shared [mirror] keys are read from ours' rendered config

    def _inside(self, path: Path) -> str:
        return "/" + str(path.relative_to(self.peer.root))

    def configure(self, name: str, tree: Path, master: str, **role_vars: object) -> Path:
        ours_text = self.ours.configs.text(directory=tree, master=master, logs=Path("/unused"),
                                           metrics=Path("/unused"), **role_vars)
        body = ("[mirror]\n"
                f"directory = {self._inside(tree)}\n"
                "allow-non-https = true\n"
                + shared_mirror_keys(ours_text)
                + "\n[plugins]\nenabled =\n")
        path = self.conf_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body.replace("[mirror]\n", f"[mirror]\nmaster = {master}\n", 1))
        # bandersnatch's verify builds its HTTP client without honouring allow-non-https, so it
        # refuses an http:// master even when it fetches nothing; a clean tree needs no fetch,
        # so verify gets the same loopback address with https:// purely to pass that check (a
        # fetch, if one happened, would fail and show in the log).
        https = master.replace("http://", "https://", 1)
        path.with_suffix(".verify.conf").write_text(body.replace("[mirror]\n", f"[mirror]\nmaster = {https}\n", 1))
        return path

    def mirror(self, conf: Path, log: Path) -> RunResult:
        return run_measured(self.peer.command(self._inside(conf), "mirror"), log, env=self.peer.chroot_env())

    def verify(self, conf: Path, log: Path) -> RunResult:
        return run_measured(self.peer.command(self._inside(conf.with_suffix(".verify.conf")), "verify"),
                            log, env=self.peer.chroot_env())

    def sync(self, conf: Path, projects: list[str], log: Path) -> RunResult:
        return run_measured(self.peer.command(self._inside(conf), "sync", *projects), log,
                            env=self.peer.chroot_env())
