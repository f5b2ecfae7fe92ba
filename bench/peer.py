"""The peer: bandersnatch 8.2.0 in its own virtualenv, inside a Debian 13 chroot.

Why a chroot: bandersnatch 8.2.0 needs Python >= 3.12 (PEP 695 syntax) and this machine ships only
3.11. Debian 13 ships 3.13, so a minimal debootstrap root gives the peer a supported interpreter
without touching the host. A chroot shares the host's network namespace, so the peer reaches the
fake upstream on 127.0.0.1 exactly like our client does. The Debian mirror is read from the host's
own APT sources at run time, and the root is cached in ``PEER_ROOT`` (``.cache/``, git-ignored),
shared by the benchmarks and the adoption test (tests/test_bandersnatch_e2e.py); CI builds it from
scratch (about 95 s on a 2-core machine: debootstrap, then pip).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

BANDERSNATCH_VERSION = "8.2.0"
#: Where the root is built and kept between runs (git-ignored).
PEER_ROOT = Path(__file__).resolve().parents[1] / ".cache" / f"bandersnatch-{BANDERSNATCH_VERSION}-root"
SUITE = "trixie"
VENV_IN_ROOT = "/opt/bs"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class PeerSetupError(RuntimeError):
    """The peer environment could not be built (one line, names the step)."""


def debian_mirror_from_host() -> str:
    """First ``URIs:`` of the host's deb822 sources (or a ``deb`` line) that serves ``debian``."""
    candidates: list[str] = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.strip().startswith("URIs:"):
                candidates.extend(line.split(":", 1)[1].split())
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            match = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
            if match:
                candidates.append(match[1])
    for uri in candidates:
        if not uri.rstrip("/").endswith("-security"):
            return uri
    raise PeerSetupError("no Debian mirror found in /etc/apt/sources.list*; cannot debootstrap")


class Peer:
    """Builds (once) and runs bandersnatch inside ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def bandersnatch(self) -> Path:
        return self.root / VENV_IN_ROOT.lstrip("/") / "bin" / "bandersnatch"

    @property
    def python_version(self) -> str:
        out = subprocess.run(
            ["chroot", str(self.root), f"{VENV_IN_ROOT}/bin/python", "-c",
             "import sys; print(sys.version.split()[0])"],
            capture_output=True, text=True, check=False,
        )
        return out.stdout.strip() or "unknown"

    def ensure(self, log=print) -> None:
        """Build the root and the venv if missing; idempotent and resumable."""
        if not (self.root / "usr/bin/python3").exists():
            self._debootstrap(log)
        self._prepare_root()
        if not self._installed():
            self._install(log)

    def _debootstrap(self, log) -> None:
        if shutil.which("debootstrap") is None:
            raise PeerSetupError("debootstrap is missing: apt-get install -y debootstrap")
        mirror = debian_mirror_from_host()
        partial = self.root.with_name(self.root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        log(f"bench: building a Debian {SUITE} root for bandersnatch in {self.root} (about a minute)")
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase",
             "--include=python3,python3-venv,ca-certificates", SUITE, str(partial), mirror],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            raise PeerSetupError(f"debootstrap {SUITE} failed: {tail[0]}")
        shutil.rmtree(self.root, ignore_errors=True)
        partial.rename(self.root)

    def _prepare_root(self) -> None:
        etc = self.root / "etc"
        shutil.copyfile("/etc/resolv.conf", etc / "resolv.conf")
        if HOST_CA_BUNDLE.exists():
            shutil.copyfile(HOST_CA_BUNDLE, etc / "ssl/certs/host-ca-bundle.crt")
        (self.root / "bench").mkdir(exist_ok=True)

    def _installed(self) -> bool:
        if not self.bandersnatch.exists():
            return False
        proc = subprocess.run(
            ["chroot", str(self.root), f"{VENV_IN_ROOT}/bin/pip", "show", "bandersnatch"],
            capture_output=True, text=True, check=False,
        )
        return f"Version: {BANDERSNATCH_VERSION}" in proc.stdout

    def _install(self, log) -> None:
        log(f"bench: installing bandersnatch=={BANDERSNATCH_VERSION} into {self.root}{VENV_IN_ROOT}")
        env = self.chroot_env()
        steps = [
            ["python3", "-m", "venv", VENV_IN_ROOT],
            [f"{VENV_IN_ROOT}/bin/pip", "install", "--quiet", "--disable-pip-version-check",
             f"bandersnatch=={BANDERSNATCH_VERSION}"],
        ]
        for step in steps:
            proc = subprocess.run(["chroot", str(self.root), *step], env=env,
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
                raise PeerSetupError(f"{' '.join(step[:3])} in the peer root failed: {tail[0]}")

    def chroot_env(self) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if (self.root / "etc/ssl/certs/host-ca-bundle.crt").exists():
            env["PIP_CERT"] = "/etc/ssl/certs/host-ca-bundle.crt"
            env["SSL_CERT_FILE"] = "/etc/ssl/certs/host-ca-bundle.crt"
        for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "PIP_INDEX_URL"):
            if key in os.environ:
                env[key] = os.environ[key]
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        return env

    def shared_dir(self, name: str) -> Path:
        """A new directory under the same absolute path on the host and inside the root: it lives
        at ``<root>/srv/<name>``, and ``<root>/<that host path>`` is a symlink to ``/srv/<name>``,
        so one config file (``directory = <host path>``) serves bandersnatch and our client."""
        host = self.root / "srv" / name
        host.mkdir(parents=True)
        inside = self.root / str(host).lstrip("/")
        inside.parent.mkdir(parents=True, exist_ok=True)
        inside.symlink_to(f"/srv/{name}")
        return host

    def remove_shared_dir(self, host: Path) -> None:
        inside = self.root / str(host).lstrip("/")
        if inside.is_symlink():
            inside.unlink()
        shutil.rmtree(host, ignore_errors=True)

    def command(self, config_in_root: str, *args: str) -> list[str]:
        """argv that runs bandersnatch with a config path as seen inside the root."""
        return ["chroot", str(self.root), f"{VENV_IN_ROOT}/bin/bandersnatch", "-c",
                config_in_root, *args]
