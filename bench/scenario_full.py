"""Full sync over the WAN: an empty mirror catches up with a small registry of small files.

Each repetition starts from an empty tree (the earlier one is moved aside, not deleted: see
Tool.remove), with both tools running exactly what cron runs. The fake upstream serves stored
bytes (its caches are warmed untimed) and applies the WAN profile only during the timed runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .limits import Wan
from .report import Row
from .runner import Runner
from .upstream import Upstream


@dataclass(frozen=True)
class FullSize:
    projects: int
    releases: int
    files: int
    file_size: int

    def title(self) -> str:
        return (f"full sync: {self.projects:,} projects x {self.releases} releases x {self.files} files "
                f"x {self.file_size // 1000} kB")


def full_sync(runner: Runner, size: FullSize, workers: int, wan_doc: dict, pin: bool) -> Row:
    row = Row("full", "full", size.title(), concurrency=workers)
    log = runner.log
    with Upstream(projects=size.projects, releases=size.releases, files=size.files, file_size=size.file_size,
                  pin=pin, log_path=runner.logs / "upstream-full.log") as up:
        runner.commands.append("upstream full: " + " ".join(up.argv[1:]))
        count, secs = up.warm_corpus()
        log(f"bench: full sync upstream at {up.url}: warmed {count} URLs in {secs:.1f}s")
        row.wan = Wan.from_doc(up.set_wan(wan_doc))
        confs = {t.short: t.configure("full", t.tree("full"), up.url) for t in runner.tools}
        for rep in range(runner.reps):
            for tool in runner.order(rep):
                tool.remove("full")
                runner.run(row, tool, up, lambda: tool.mirror(confs[tool.short], runner.logs / f"full-{tool.short}-{rep}.log"))
        runner.notes.extend(compare_trees(runner, "full"))
    return row


def compare_trees(runner: Runner, name: str) -> list[str]:
    """A note when the tools' trees hold different release files after the same work."""
    counts = {}
    for tool in runner.tools:
        pkgs = tool.tree(name) / "web" / "packages"
        counts[tool.short] = sum(1 for p in pkgs.rglob("*") if p.is_file() and not p.name.endswith(".metadata"))
    runner.log(f"bench: {name}: release files per tool {counts}")
    if len(set(counts.values())) > 1:
        return [f"{name}: release files differ between the trees: {counts}"]
    return []
