"""Run one client command and account for it: wall time, CPU time, peak RSS, exit code.

Two memory figures: the peak of the whole process tree (every process of the command's process
group, summed; ``treemem.py``), which is what the tables report, and the single largest process
(below), which is exact and bounds the tree's peak from below when a sample missed a spike.

Peak RSS needs care: when a process execs, Linux folds the high-water RSS of the memory image it
leaves behind into the new program's ``ru_maxrss``. A child forked (or vforked) straight from the
orchestrator, which holds corpus listings, would therefore report at least the orchestrator's own
peak. So the command is started through GNU ``/usr/bin/time`` (a ~2 MB process), whose ``%M`` is the
exact peak of the command and its waited-for children (a chroot'ed bandersnatch included). Without
``/usr/bin/time`` the peak is the command's ``VmHWM`` polled every 5 ms (a fresh image after exec,
so uncontaminated; a peak reached in the last 5 ms could be missed). CPU time (user + sys) is
``os.wait4``'s rusage, which includes waited-for descendants.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .treemem import TreePeak

GNU_TIME = shutil.which("time", path="/usr/bin:/bin")
PRIORITY = 0  # niceness for measured processes; set by ``python -m bench --nice``


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    exit_code: int
    wall_s: float
    cpu_s: float
    peak_rss_kib: int
    log_path: Path
    rss_method: str = "gnu-time"
    tree_rss_kib: int = 0  # peak of the summed RSS of the whole process tree
    tree_processes: int = 0  # processes alive at that peak


    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


def raise_priority() -> None:
    """preexec hook: run at ``PRIORITY`` so other work on a shared box disturbs runs less."""
    if PRIORITY:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
        except OSError:
            pass


def _vmhwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_measured(argv: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 7200.0) -> RunResult:
    """Run ``argv`` to completion with stdout+stderr going to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    rss_file = None
    spawn = list(argv)
    if GNU_TIME:
        fd, rss_file = tempfile.mkstemp(prefix="bench-rss-")
        os.close(fd)
        spawn = [GNU_TIME, "-f", "%M", "-o", rss_file, *argv]
    polled = [0]
    done = threading.Event()
    with log_path.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(spawn, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, preexec_fn=raise_priority,
                                start_new_session=True)
        # GNU time (the group leader, ~2 MB) is the meter, not the metered
        tree = TreePeak(proc.pid, exclude=(proc.pid,) if GNU_TIME else ()).start()

        def poll() -> None:
            while not done.wait(0.005):
                polled[0] = max(polled[0], _vmhwm_kib(proc.pid))

        poller = None
        if not GNU_TIME:
            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
        killer = threading.Timer(timeout, lambda: _kill_group(proc.pid))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        finally:
            killer.cancel()
            done.set()
            tree.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    if poller is not None:
        poller.join()
    peak, method = polled[0], "VmHWM poll"
    if rss_file:
        method = "gnu-time"
        try:
            text = Path(rss_file).read_text().split()
            peak = int(text[-1]) if text else 0
        except (OSError, ValueError):
            peak = 0
        os.unlink(rss_file)
    return RunResult(
        argv=tuple(argv),
        exit_code=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_kib=peak,
        log_path=log_path,
        rss_method=method,
        tree_rss_kib=max(tree.peak_kib, peak),
        tree_processes=tree.peak_processes,
    )
