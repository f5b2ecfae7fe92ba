"""Where project syncs run: a thread pool, or forked single-threaded worker processes.

Why processes: a sync is thousands of small requests, and with several threads in one interpreter
most of the CPU went to handing the GIL back and forth (measured: ~80 futex calls per request,
more system time than user time). A forked worker owns its interpreter, its connections and its
CPU; it downloads and verifies files, then hands the parent an `Outcome` holding the project to
publish. Only the parent writes pages, the root index, `todo` and `status`, so the publish order that keeps the tree
consistent is the same in both modes. A worker that dies (SIGKILL, OOM) leaves at most a file
under `tmp/`; the parent dying takes its workers with it (PR_SET_PDEATHSIG).

`worker-mode = auto` picks threads: on a network like the one between a mirror and its upstream
the workers wait for bytes, not for the GIL (a full sync of 200 projects over a 40 ms WAN took
the same wall and CPU time in both modes), and forked workers each count the parent's imported
modules again in their resident memory (4 processes: 114 MiB summed against 39 MiB in one).
`processes` forces workers (CPU-bound hosts, an upstream on the LAN); `threads` forces threads.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing
import os
import signal
from dataclasses import replace
from typing import Any

from mirror_tool.exitcodes import ExitCode
from mirror_tool.engine.sync import Outcome, SyncContext, sync_project
from mirror_tool.stop import StopToken
from mirror_tool.upstream.hub import open_upstream

_PR_SET_PDEATHSIG = 1


def choose_processes(mode: str, workers: int, projects: int) -> bool:
    """True when this run's projects should go to worker processes."""
    return mode == "processes" and "fork" in multiprocessing.get_all_start_methods()


class ThreadWorkers:
    """`workers` threads sharing the parent's Upstream (its stats count every download)."""

    separate_stats = False

    def __init__(self, ctx: SyncContext, workers: int) -> None:
        self._ctx = ctx
        self._pool = cf.ThreadPoolExecutor(workers, thread_name_prefix="project")

    def submit(self, name: str, expected: int) -> "cf.Future[Outcome]":
        return self._pool.submit(sync_project, self._ctx, name, expected)

    def request_stop(self, code: ExitCode) -> None:
        """The threads poll the parent's stop token directly; nothing to forward."""

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class _SharedFlagStop(StopToken):
    """A worker process's stop token: the deadline, or the exit code the parent writes into `flag`."""

    def __init__(self, deadline: float | None, flag: Any) -> None:
        super().__init__(deadline)
        self._flag = flag

    @property
    def stopped(self) -> bool:
        code = self._flag.value
        if code:
            self.set(ExitCode(code))
            return True
        return super().stopped

    def wait(self, seconds: float) -> bool:
        """As `StopToken.wait`, also woken (within 0.05 s) when the parent writes the flag."""
        return self.poll_wait(seconds, 0.05)


#: What a forked worker inherits from the parent (set just before the pool forks).
_INHERITED: dict[str, Any] = {}


def _worker_start() -> None:
    """Runs once in each forked worker: die with the parent, ignore terminal signals, own HTTP state."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != _INHERITED["parent_pid"]:  # the parent died before prctl took effect
        os._exit(1)
    # Ctrl-C reaches the whole process group: only the parent reacts, then tells the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent: SyncContext = _INHERITED["ctx"]
    stop = _SharedFlagStop(parent.stop.deadline, _INHERITED["flag"])
    # The parent's HTTP settings (read once at start-up), this process's own client and stop token
    # (a replica's: the same hub).
    upstream = open_upstream(parent.settings, stop, like=parent.upstream)
    _INHERITED["ctx"] = replace(parent, upstream=upstream, stop=stop)


def _worker_sync(name: str, expected: int) -> Outcome:
    ctx: SyncContext = _INHERITED["ctx"]
    stats = ctx.upstream.stats
    files, nbytes = stats.files, stats.bytes
    outcome = sync_project(ctx, name, expected)
    outcome.files_downloaded = stats.files - files
    outcome.bytes_downloaded = stats.bytes - nbytes
    return outcome


class ProcessWorkers:
    """`workers` forked single-threaded processes; outcomes carry their own download counts."""

    separate_stats = True

    def __init__(self, ctx: SyncContext, workers: int) -> None:
        context = multiprocessing.get_context("fork")
        self._flag = context.RawValue("i", 0)  # 0 = running; else the ExitCode to stop with
        _INHERITED.update(ctx=ctx, flag=self._flag, parent_pid=os.getpid())
        self._pool = cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start)

    def submit(self, name: str, expected: int) -> "cf.Future[Outcome]":
        return self._pool.submit(_worker_sync, name, expected)

    def request_stop(self, code: ExitCode) -> None:
        if not self._flag.value:
            self._flag.value = int(code)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=bool(self._flag.value))
        _INHERITED.clear()


def start_workers(ctx: SyncContext, workers: int, processes: bool) -> ThreadWorkers | ProcessWorkers:
    return ProcessWorkers(ctx, workers) if processes else ThreadWorkers(ctx, workers)


__all__ = ["choose_processes", "start_workers", "ThreadWorkers", "ProcessWorkers"]
