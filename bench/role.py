"""Scenario 7: converge and re-converge time of `playbooks/site.yml` on the local test hosts.

Why in the bench: the issue asks for the role's times beside the client's, measured the same
way every time. Fresh hosts from `scripts/testhosts.sh up` (the hosts `make demo` and molecule
use: a running demo fleet is replaced), `ansible-playbook playbooks/site.yml -i inventory/local`
twice, wall time of each, and the re-converge must report changed=0 on every host (else the
run counts as failed). There is no peer role to compare with, so the row has no ratio. The hosts
are removed at the end.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from .report import Row, Sample

REPO = Path(__file__).resolve().parent.parent
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def _run(argv: list[str], log: Path) -> tuple[int, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    log.write_text(proc.stdout + proc.stderr)
    return proc.returncode, wall, proc.stdout


def measure_role(logs: Path, say: Callable[[str], None], commands: list[str]) -> list[Row]:
    converge = Row("7-converge", "role: converge of playbooks/site.yml on 3 fresh test hosts")
    reconverge = Row("7-reconverge", "role: re-converge (nothing to change, changed=0 required)")
    playbook = [str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/site.yml", "-i", "inventory/local"]
    commands.append("role: " + " ".join(playbook) + " (twice, on hosts from scripts/testhosts.sh up)")
    hosts = ["bash", str(REPO / "scripts" / "testhosts.sh")]
    code, wall, _ = _run(["bash", str(REPO / "scripts" / "build-base-image.sh")], logs / "s7-base-image.log")
    if code != 0:
        converge.note = f"base image build failed (exit {code}), see {logs / 's7-base-image.log'}"
        return [converge, reconverge]
    _run([*hosts, "down"], logs / "s7-hosts-down.log")
    code, wall, _ = _run([*hosts, "up"], logs / "s7-hosts-up.log")
    say(f"  7 test hosts up in {wall:.1f}s (exit {code})")
    try:
        if code != 0:
            converge.note = f"scripts/testhosts.sh up failed (exit {code}), see {logs / 's7-hosts-up.log'}"
            return [converge, reconverge]
        for row, name in ((converge, "converge"), (reconverge, "reconverge")):
            code, wall, out = _run(playbook, logs / f"s7-{name}.log")
            recap = RECAP.findall(out)
            changed = {host: int(c) for host, _ok, c, _u, _f in recap}
            ok = code == 0 and bool(recap) and (row is converge or not any(changed.values()))
            row.ours.append(Sample(wall, None, None, None, ok))
            say(f"  7 {name:12s} wall {wall:8.1f}s exit {code} changed {changed} [{'ok' if ok else 'FAIL'}]")
            row.note = f"changed per host: {changed}" + ("" if ok else f"; FAILED, see {logs / f's7-{name}.log'}")
    finally:
        _run([*hosts, "down"], logs / "s7-hosts-down.log")
    return [converge, reconverge]


__all__ = ["measure_role"]
