"""Run one client command and account for it: wall time, CPU time, peak RSS, exit code.

Why ``os.wait4``: its rusage is the kernel's own accounting for the child (what ``/usr/bin/time -v``
prints), and ``ru_maxrss`` is the largest of the child and every descendant it waited for, so it
also covers a client that re-execs through ``chroot`` or forks worker processes.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    exit_code: int
    wall_s: float
    cpu_s: float
    peak_rss_kib: int
    log_path: Path

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


PRIORITY = 0  # niceness for measured processes; set by ``python -m bench --nice``


def raise_priority() -> None:
    """preexec hook: run at ``PRIORITY`` so other work on a shared box disturbs runs less."""
    if PRIORITY:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
        except OSError:
            pass


def run_measured(argv: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 7200.0) -> RunResult:
    """Run ``argv`` to completion with stdout+stderr going to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, preexec_fn=raise_priority)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    return RunResult(
        argv=tuple(argv),
        exit_code=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_kib=usage.ru_maxrss,
        log_path=log_path,
    )
