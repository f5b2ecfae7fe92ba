"""Running measured commands in a scenario: alternating order, recording, settling the disk.

A and B alternate within every repetition (even reps: ours first, odd reps: bandersnatch first),
so warm caches in the fake upstream and the page cache favour neither tool, and the medians of
alternating runs absorb most of the noise of a shared machine. Dirty pages of earlier runs are
written out before each measured run (untimed): ours makes its files durable before publishing
pages (syncfs), which must not be charged for another run's data.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .measure import RunResult
from .report import Row, Sample
from .tools import Tool
from .upstream import Upstream

Log = Callable[[str], None]
#: Pause after deleting retired trees before the next measured run (Tool.remove says why).
SETTLE_SECONDS = 35.0


@dataclass
class Runner:
    tools: list[Tool]
    logs: Path
    log: Log
    reps: int
    failures: list[str] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """A note for RESULTS.md, once however many sizes add it."""
        if text not in self.notes:
            self.notes.append(text)

    def order(self, rep: int) -> list[Tool]:
        return self.tools if rep % 2 == 0 else list(reversed(self.tools))

    def run(self, row: Row, tool: Tool, up: Upstream | None, action: Callable[[], RunResult | None]) -> Sample | None:
        """Run one measured command (None from ``action``: the tool has no such command)."""
        os.sync()
        if up is not None:
            up.clear_log()
        cpu0 = up.cpu_seconds() if up is not None else None
        result = action()
        if result is None:
            return None
        up_cpu = up.cpu_seconds() - cpu0 if up is not None and cpu0 is not None else None
        traffic = up.take_traffic() if up is not None else None
        sample = Sample(result.wall_s, result.cpu_s, result.tree_rss_kib, result.peak_rss_kib,
                        traffic.bytes if traffic else None, traffic.requests if traffic else None,
                        traffic.index_fetches if traffic else None, result.ok, up_cpu, os.getloadavg()[0])
        self.loads.append(sample.load1 or 0.0)
        (row.ours if tool.short == "ours" else row.theirs).append(sample)
        status = "ok" if result.ok else f"EXIT {result.exit_code}"
        self.log(f"  {row.key:16s} {tool.short:12s} wall {result.wall_s:8.3f}s cpu {result.cpu_s:7.2f}s "
                 f"tree-rss {result.tree_rss_kib / 1024:7.1f} MiB ({result.tree_processes} procs) "
                 f"req {sample.requests if sample.requests is not None else '-'} bytes "
                 f"{sample.bytes_rx if sample.bytes_rx is not None else '-'} load {sample.load1:.1f} [{status}]")
        if not result.ok:
            self.failures.append(f"{row.key} {tool.short}: exit {result.exit_code}, log {result.log_path}: "
                                 f"{result.log_tail(2)!r}")
        label = f"{tool.short} {row.kind}"
        if not any(c.startswith(label + ":") for c in self.commands):
            self.commands.append(f"{label}: {' '.join(result.argv)}")
        return sample

    def settle(self) -> None:
        """Delete the trees earlier runs retired, then wait until the filesystem has forgotten
        them (see Tool.remove), so every measured run starts on the same footing."""
        retired = [t for t in self.tools if t.has_retired()]
        if not retired:
            return
        for tool in retired:
            tool.purge_retired()
        os.sync()
        self.log(f"bench: deleted retired trees; waiting {SETTLE_SECONDS:.0f}s before measuring")
        time.sleep(SETTLE_SECONDS)
