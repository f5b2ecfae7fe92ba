"""Opt-in scenario `role`: converge and re-converge time of `playbooks/site.yml` on the local test hosts.

Why in the bench: the issue asks for the role's times beside the client's, measured the same
way every time. Fresh hosts from `scripts/testhosts.sh up` (the hosts `make demo` and molecule
use: a running demo fleet is replaced), `ansible-playbook playbooks/site.yml -i inventory/local`
twice, wall time of each, and the re-converge must report changed=0 on every host (else the
run counts as failed). There is no peer role to compare with, so the row has no ratio. The hosts
are removed at the end. The machine's podman lock (/tmp/podman-testhosts.lock) is held throughout,
as every command that creates test hosts must.
"""

from __future__ import annotations

import fcntl
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from .report import Row, Sample

REPO = Path(__file__).resolve().parent.parent
PODMAN_LOCK = Path("/tmp/podman-testhosts.lock")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def _run(argv: list[str], log: Path) -> tuple[int, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    log.write_text(proc.stdout + proc.stderr)
    return proc.returncode, wall, proc.stdout


def measure_role(logs: Path, say: Callable[[str], None], commands: list[str]) -> list[Row]:
    with PODMAN_LOCK.open("a") as lock:
        say(f"bench: waiting for {PODMAN_LOCK}")
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _measure(logs, say, commands)


def _measure(logs: Path, say: Callable[[str], None], commands: list[str]) -> list[Row]:
    converge = Row("role-converge", "role", "role: converge of playbooks/site.yml on 3 fresh test hosts")
    reconverge = Row("role-reconverge", "role", "role: re-converge (nothing to change, changed=0 required)")
    playbook = [str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/site.yml", "-i", "inventory/local"]
    commands.append("role: " + " ".join(playbook) + " (twice, on hosts from scripts/testhosts.sh up)")
    hosts = ["bash", str(REPO / "scripts" / "testhosts.sh")]
    code, wall, _ = _run(["bash", str(REPO / "scripts" / "build-base-image.sh")], logs / "role-base-image.log")
    if code != 0:
        converge.note = f"base image build failed (exit {code}), see {logs / 'role-base-image.log'}"
        return [converge, reconverge]
    _run([*hosts, "down"], logs / "role-hosts-down.log")
    code, wall, _ = _run([*hosts, "up"], logs / "role-hosts-up.log")
    say(f"  role test hosts up in {wall:.1f}s (exit {code})")
    try:
        if code != 0:
            converge.note = f"scripts/testhosts.sh up failed (exit {code}), see {logs / 'role-hosts-up.log'}"
            return [converge, reconverge]
        for row, name in ((converge, "converge"), (reconverge, "reconverge")):
            code, wall, out = _run(playbook, logs / f"role-{name}.log")
            recap = RECAP.findall(out)
            changed = {host: int(c) for host, _ok, c, _u, _f in recap}
            ok = code == 0 and bool(recap) and (row is converge or not any(changed.values()))
            row.ours.append(Sample(wall, 0.0, 0, 0, None, None, None, ok))
            say(f"  role {name:12s} wall {wall:8.1f}s exit {code} changed {changed} [{'ok' if ok else 'FAIL'}]")
            row.note = f"changed per host: {changed}" + ("" if ok else f"; FAILED, see {logs / f'role-{name}.log'}")
    finally:
        _run([*hosts, "down"], logs / "role-hosts-down.log")
    return [converge, reconverge]


__all__ = ["measure_role"]
