"""The seven scenarios of issue 9, each a function that fills one or more result rows.

A and B alternate within every repetition (even reps: ours first, odd reps: theirs first), so
warm caches in the fake upstream and the page cache favour neither tool. Every run gets a fresh
copy of its starting tree, made outside the timed region.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .measure import RunResult, run_measured
from .report import Row, Sample
from .tools import MirrorOptions, Tool
from .upstream import Upstream


@dataclass(frozen=True)
class Sizes:
    s1_projects: int
    s1_releases: int
    s1_files: int
    s1_file_size: int
    s2_uploads: int
    s2_yanks: int
    s2_removals: int
    s4_index: int
    s4_changed: int
    s6_projects: int
    s6_file_size: int
    reps: int


FULL = Sizes(2000, 3, 3, 20_000, 100, 20, 10, 700_000, 50, 200, 5_000_000, 3)
QUICK = Sizes(200, 3, 3, 20_000, 100, 20, 10, 70_000, 50, 40, 5_000_000, 3)

Log = Callable[[str], None]
BENCH_VERSION = "1000.0.0"  # a version no corpus project has (the special cases use up to 9.x)
#: Pause after deleting retired trees before the next measured run (Tool.remove says why).
SETTLE_SECONDS = 35.0


class Bench:
    def __init__(self, tools: list[Tool], sizes: Sizes, workers: int, logs: Path, log: Log,
                 reps: int | None = None, pin: bool = True) -> None:
        self.tools = tools
        self.sizes = sizes
        self.workers = workers
        self.logs = logs
        self.log = log
        self.reps = reps or sizes.reps
        self.pin = pin
        self.failures: list[str] = []
        self.loads: list[float] = []
        self.notes: list[str] = []
        self.commands: list[str] = []

    # ----------------------------------------------------------------- helpers
    def order(self, rep: int) -> list[Tool]:
        return self.tools if rep % 2 == 0 else list(reversed(self.tools))

    def bucket(self, row: Row, tool: Tool) -> list[Sample]:
        return row.ours if tool.short == "ours" else row.theirs

    def run(self, row: Row, tool: Tool, up: Upstream | None, action: Callable[[], RunResult]) -> Sample:
        """Run one measured client command and record it (with the fake's CPU during it).

        Dirty pages of earlier runs are written out first (untimed): ours makes its files durable
        before publishing pages (syncfs), which must not be charged for another run's data.
        """
        os.sync()
        cpu0 = up.cpu_seconds() if up is not None else None
        result = action()
        up_cpu = up.cpu_seconds() - cpu0 if up is not None and cpu0 is not None else None
        return self.record(row, tool, result, up, up_cpu)

    def record(self, row: Row, tool: Tool, result: RunResult, up: Upstream | None,
               up_cpu: float | None = None) -> Sample:
        nbytes = up.take_bytes()[0] if up is not None else None
        sample = Sample(result.wall_s, result.cpu_s, result.peak_rss_kib, nbytes, result.ok, up_cpu,
                        os.getloadavg()[0])
        self.loads.append(sample.load1 or 0.0)
        self.bucket(row, tool).append(sample)
        status = "ok" if result.ok else f"EXIT {result.exit_code}"
        self.log(f"  {row.key} {tool.short:12s} wall {result.wall_s:8.3f}s cpu {result.cpu_s:7.2f}s "
                 f"rss {result.peak_rss_kib / 1024:7.1f} MiB bytes {nbytes if nbytes is not None else '-'} "
                 f"fake-cpu {up_cpu if up_cpu is not None else float('nan'):.2f}s load {sample.load1:.1f} "
                 f"[{status}]")
        if not result.ok:
            self.failures.append(f"scenario {row.key} {tool.short}: exit {result.exit_code}, log "
                                 f"{result.log_path}: {result.log_tail(2)!r}")
        if tool.short not in {c.split(':', 1)[0] for c in self.commands}:
            self.commands.append(f"{tool.short}: {' '.join(result.argv)}")
        return sample

    def upstream(self, name: str, **kw: int) -> Upstream:
        up = Upstream(pin=self.pin, log_path=self.logs / f"upstream-{name}.log", **kw)
        self.commands.append(f"upstream {name}: {' '.join(up.argv[1:])}")
        self.log(f"bench: upstream {name} at {up.url} ({kw})"
                 + (f", pinned to CPU {sorted(up.pinned_cpus)}" if up.pinned_cpus else ""))
        self.warm(up)
        return up

    def settle(self) -> None:
        """Delete the trees earlier runs retired, then wait until the filesystem has forgotten
        them (see Tool.remove), so every measured run starts on the same footing."""
        retired = [t for t in self.tools if (t.home / ".retired").exists()]
        if not retired:
            return
        for tool in retired:
            tool.purge_retired()
        os.sync()
        self.log(f"bench: deleted retired trees; waiting {SETTLE_SECONDS:.0f}s before measuring")
        time.sleep(SETTLE_SECONDS)

    def retire(self, tree: Path) -> None:
        """Move a reference loop's output aside like Tool.remove does (deleting a gigabyte right
        before a measured run made the disk discard it during that run)."""
        if tree.exists():
            retired = self.tools[0].home / ".retired"
            retired.mkdir(parents=True, exist_ok=True)
            tree.rename(retired / f"{tree.name}-{time.monotonic_ns()}")

    def warm(self, up: Upstream) -> None:
        count, secs = up.warm_corpus()
        self.log(f"bench: warmed the fake's caches: {count} URLs in {secs:.1f}s")

    def check_trees(self, name: str, label: str) -> None:
        """Same release files in both trees after a run, or a note saying how they differ."""
        counts = {}
        for tool in self.tools:
            pkgs = tool.mirror_dir(name) / "web" / "packages"
            files = [p for p in pkgs.rglob("*") if p.is_file() and not p.name.endswith(".metadata")]
            counts[tool.short] = len(files)
        self.log(f"bench: {label}: release files per tool {counts}")
        if len(set(counts.values())) > 1:
            self.notes.append(f"{label}: release files differ between the trees: {counts}")

    # -------------------------------------------------------------- scenarios
    def corpus_scenarios(self) -> list[Row]:
        """Scenarios 1, 3, 5, 2 on one upstream (2 last: it changes the upstream)."""
        s = self.sizes
        full = Row("1", f"full sync: {s.s1_projects} projects x {s.s1_releases} releases x "
                        f"{s.s1_files} files x {s.s1_file_size // 1000} KB", target=">= 3x faster")
        noop = Row("3", "no-op sync (nothing changed)")
        verify = Row("5", "verify of the scenario 1 tree", target=">= 2x faster")
        inc = Row("2", f"incremental: {s.s2_uploads} uploads, {s.s2_yanks} yanks, "
                       f"{s.s2_removals} removals")
        self.settle()
        with self.upstream("corpus", projects=s.s1_projects, releases=s.s1_releases,
                           files=s.s1_files, file_size=s.s1_file_size) as up:
            opts = MirrorOptions(master=up.url, workers=self.workers)
            up.clear_log()
            self.log("bench: scenario 1 (full sync)")
            for rep in range(self.reps):
                for tool in self.order(rep):
                    tool.remove("full")
                    self.run(full, tool, up, lambda: tool.mirror("full", opts, self.logs / f"s1-{tool.short}-{rep}.log"))
            self.check_trees("full", "scenario 1")
            self.log("bench: scenario 3 (no-op)")
            for rep in range(self.reps):
                for tool in self.order(rep):
                    self.run(noop, tool, up, lambda: tool.mirror("full", opts, self.logs / f"s3-{tool.short}-{rep}.log"))
            self.log("bench: scenario 5 (verify)")
            for rep in range(self.reps):
                for tool in self.order(rep):
                    self.run(verify, tool, up, lambda: tool.verify("full", opts, self.logs / f"s5-{tool.short}-{rep}.log"))
            self.log("bench: scenario 2 (incremental)")
            self.mutate(up)
            for rep in range(self.reps):
                for tool in self.order(rep):
                    tool.clone("full", "inc")
                    self.run(inc, tool, up, lambda: tool.mirror("inc", opts, self.logs / f"s2-{tool.short}-{rep}.log"))
            self.check_trees("inc", "scenario 2")
        inc.note = (f"both tools see the same {s.s2_uploads} new releases (2 files each), "
                    f"{s.s2_yanks} yanked releases and {s.s2_removals} removed projects; ours also "
                    "deletes the removed projects' pages and files (delete-packages = true), "
                    "bandersnatch 8.2.0 leaves them (its delete_missing_packages defaults to false)")
        for tool in self.tools:
            tool.remove("inc")
        return [full, inc, noop, verify]

    def mutate(self, up: Upstream) -> None:
        s = self.sizes
        names = sorted(up.projects())
        generic = names[8:] if len(names) > 8 + s.s2_uploads + s.s2_yanks + s.s2_removals else names
        projects = up.projects()
        # Spread the changes: uploads, yanks and removals hit disjoint projects.
        step = max(1, len(generic) // (s.s2_uploads + s.s2_yanks + s.s2_removals))
        picks = generic[::step]
        uploads = picks[: s.s2_uploads]
        yanks = picks[s.s2_uploads: s.s2_uploads + s.s2_yanks]
        removals = picks[s.s2_uploads + s.s2_yanks: s.s2_uploads + s.s2_yanks + s.s2_removals]
        for name in uploads:
            up.upload(projects[name]["name"], BENCH_VERSION, file_size=s.s1_file_size)
        for name in yanks:
            versions = [v for v, r in projects[name]["releases"].items() if not r["yanked"]]
            if versions:
                up.yank(projects[name]["name"], versions[0])
        for name in removals:
            up.remove_project(projects[name]["name"])
        self.warm(up)
        self.log(f"bench: upstream changed: {len(uploads)} uploads, {len(yanks)} yanks, "
                 f"{len(removals)} removals, serial now {up.last_serial}")

    def big_index(self) -> list[Row]:
        """Scenario 4: no-op and a small incremental against a huge index."""
        s = self.sizes
        explicit = s.s4_changed
        noop = Row("4-noop", f"no-op sync, {s.s4_index:,}-project index",
                   target=">= 50x faster and <= 1/5 peak RSS")
        inc = Row("4-inc", f"{s.s4_changed}-project incremental, {s.s4_index:,}-project index")
        self.settle()
        with self.upstream("big-index", projects=explicit, releases=1, files=2, file_size=20_000,
                           index_projects=s.s4_index) as up:
            opts = MirrorOptions(master=up.url, workers=self.workers)
            start_serial = up.last_serial
            t = up.warm("/simple/", "application/vnd.pypi.simple.v1+json")
            t2 = up.warm("/simple/", "text/html")
            self.log(f"bench: index pages built by the fake in {t:.1f}s (JSON), {t2:.1f}s (HTML)")
            up.clear_log()
            now = time.time()
            for tool in self.tools:
                tool.seed_caught_up("big", start_serial, now)
                # A caught-up mirror has had earlier runs: one untimed no-op of each tool first
                # (ours records the validated config its no-op fast path relies on).
                prior = tool.mirror("big", opts, self.logs / f"s4noop-{tool.short}-prior.log")
                if not prior.ok:
                    self.failures.append(f"scenario 4-noop {tool.short}: untimed prior run exit {prior.exit_code}")
            up.clear_log()
            self.log("bench: scenario 4 no-op")
            for rep in range(self.reps):
                for tool in self.order(rep):
                    self.run(noop, tool, up, lambda: tool.mirror("big", opts, self.logs / f"s4noop-{tool.short}-{rep}.log"))
            for name, info in sorted(up.projects().items()):
                up.upload(info["name"], BENCH_VERSION, file_size=20_000)
            self.warm(up)
            up.warm("/simple/", "application/vnd.pypi.simple.v1+json")
            up.warm("/simple/", "text/html")
            up.clear_log()
            self.log(f"bench: scenario 4 incremental ({explicit} projects changed)")
            for rep in range(self.reps):
                for tool in self.order(rep):
                    tool.seed_caught_up("big-inc", start_serial, now)
                    self.run(inc, tool, up, lambda: tool.mirror("big-inc", opts, self.logs / f"s4inc-{tool.short}-{rep}.log"))
            self.check_trees("big-inc", "scenario 4 incremental")
        for tool in self.tools:
            tool.remove("big")
            tool.remove("big-inc")
        noop.note = ("both mirrors are seeded as caught up at the upstream's serial (status file; "
                     "ours also state.json with a fresh reconcile time) and run once untimed, as a "
                     "mirror that had earlier runs, then synced; bandersnatch "
                     "8.2.0 detects changes by downloading and diffing the whole PEP 691 index")
        return [noop, inc]

    def throughput(self) -> list[Row]:
        """Scenario 6: large files, against a plain download-and-hash loop."""
        s = self.sizes
        row = Row("6", f"throughput: {s.s6_projects} projects x 1 file x {s.s6_file_size // 1_000_000} MB",
                  target=">= 80% of plain download")
        self.settle()
        with self.upstream("large", projects=s.s6_projects, releases=1, files=1,
                           file_size=s.s6_file_size) as up:
            opts = MirrorOptions(master=up.url, workers=self.workers)
            listing = self.logs / "s6-files.txt"
            total = 0
            with listing.open("w") as fh:
                for info in up.projects().values():
                    for rel in info["releases"].values():
                        for f in rel["files"]:
                            fh.write(f"{f['url']} {f['sha256']}\n")
                            total += int(f["size"])
            row.payload_bytes = total
            up.clear_log()
            baseline: list[float] = []
            with_disk: list[float] = []
            with_direct: list[float] = []
            root = Path(__file__).resolve().parent.parent
            argv = [sys.executable, "-m", "bench.plain_download", str(listing), str(self.workers)]
            disk_dir = self.tools[0].home / "plain-write"
            argv_disk = argv + [str(disk_dir)]
            argv_direct = argv_disk + ["direct"]
            self.commands.append("plain download: " + " ".join(argv))
            self.commands.append("plain download + write: " + " ".join(argv_disk))
            self.commands.append("plain download + direct write: " + " ".join(argv_direct))
            self.log("bench: scenario 6 (throughput)")
            for rep in range(self.reps):
                for label, cmd, bucket in (("plain", argv, baseline), ("plain+write", argv_disk, with_disk),
                                           ("plain+direct", argv_direct, with_direct)):
                    self.retire(disk_dir)
                    os.sync()  # like Bench.run: no run inherits another's dirty pages
                    res = run_measured(cmd, self.logs / f"s6-{label}-{rep}.log", cwd=root)
                    up.take_bytes()
                    self.log(f"  6 {label:12s} wall {res.wall_s:8.3f}s cpu {res.cpu_s:7.2f}s "
                             f"{total / res.wall_s / 1e6:7.1f} MB/s [{'ok' if res.ok else 'FAIL'}]")
                    if res.ok:
                        bucket.append(res.wall_s)
                self.retire(disk_dir)
                for tool in self.order(rep):
                    tool.remove("large")
                    self.run(row, tool, up, lambda: tool.mirror("large", opts, self.logs / f"s6-{tool.short}-{rep}.log"))
            self.check_trees("large", "scenario 6")
        for tool in self.tools:
            tool.remove("large")
        if baseline:
            row.baseline_s = statistics.median(baseline)
            ours = Row.med(row.ours, "wall_s")
            theirs = Row.med(row.theirs, "wall_s")
            mbs = lambda t: f"{total / t / 1e6:.0f} MB/s" if t else "—"  # noqa: E731
            share = f"{row.baseline_s / ours * 100:.0f}%" if ours else "—"
            share_b = f"{row.baseline_s / theirs * 100:.0f}%" if theirs else "—"
            disk = statistics.median(with_disk) if with_disk else None
            direct = statistics.median(with_direct) if with_direct else None
            of_direct = f"{direct / ours * 100:.0f}%" if ours and direct else "—"
            row.note = (f"plain download-and-hash loop ({self.workers} connections, no disk writes): "
                        f"{mbs(row.baseline_s)} (median {row.baseline_s:.2f}s); ours {mbs(ours)} = "
                        f"{share} of it; bandersnatch {mbs(theirs)} = {share_b}. Same loop also "
                        f"writing each file through the page cache (no fsync): {mbs(disk)}; writing "
                        f"with O_DIRECT (the cheapest way onto this disk): {mbs(direct)}, ours = "
                        f"{of_direct} of that")
        return [row]

    def role(self) -> list[Row]:
        """Scenario 7: the role's converge and re-converge times (bench/role.py)."""
        from .role import measure_role

        self.log("bench: scenario 7 (role converge / re-converge on fresh test hosts)")
        return measure_role(self.logs, self.log, self.commands)
