"""Peak memory of a whole process tree: the resident set sizes of every process in a process
group, summed, sampled from /proc while the command runs.

Why summed: our client forks worker processes and bandersnatch runs threads; an operator's host
has to hold all of them at once, so the figure that matters is what the tree holds together, not
the largest single process (which is all ``ru_maxrss`` / GNU time report). The command is started
as a new session, so every process it starts (GNU time, chroot, the client, its workers) shares
its process group id unless it leaves the group on purpose, and nothing else on the machine does.

Sampling can miss a short spike; callers combine the sampled peak with GNU time's exact
single-process peak (a lower bound of the tree's). Shared pages (a forked worker's copy-on-write
pages) count once per process, as ``ps`` and ``top`` would show them.
"""

from __future__ import annotations

import os
import threading

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
#: Seconds between samples of the known members, and between full /proc scans for new ones.
SAMPLE_S = 0.01
SCAN_EVERY = 5


def group_members(pgid: int) -> list[int]:
    """PIDs whose process group is ``pgid`` (one pass over /proc)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def rss_kib(pid: int) -> int:
    """Resident set of one process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE_KIB
    except (OSError, ValueError, IndexError):
        return 0


class TreePeak:
    """Polls the process group ``pgid`` from a thread until ``stop()``; ``peak_kib`` is the
    highest sum seen and ``peak_processes`` how many processes made it up."""

    def __init__(self, pgid: int, exclude: tuple[int, ...] = ()) -> None:
        self.pgid = pgid
        self.exclude = set(exclude)
        self.peak_kib = 0
        self.peak_processes = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, name=f"treemem-{pgid}", daemon=True)

    def start(self) -> "TreePeak":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def sample(self, members: list[int]) -> None:
        sizes = [rss_kib(pid) for pid in members if pid not in self.exclude]
        total = sum(sizes)
        if total > self.peak_kib:
            self.peak_kib = total
            self.peak_processes = sum(1 for s in sizes if s)

    def _poll(self) -> None:
        members: list[int] = []
        tick = 0
        while True:
            if tick % SCAN_EVERY == 0:
                members = group_members(self.pgid)
            self.sample(members)
            tick += 1
            if self._done.wait(SAMPLE_S):
                return
