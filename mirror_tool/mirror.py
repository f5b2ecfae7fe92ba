"""`run_mirror` (incremental; first run full) and `run_sync` (named projects now).

The engine persists `todo` before any project work, publishes each project as soon as its files
are verified, and checkpoints periodically: root index first (it must list only projects whose
pages exist), then removals, then the shrunken `todo` and the `status` serial. A kill at any point
therefore resumes from `todo` with a consistent tree. Neither function takes the lock.
"""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from datetime import datetime, timezone

from mirror_tool.changefeed import Changes, collect_changes, full_listing
from mirror_tool.config import Config
from mirror_tool.errors import MirrorError, StorageError, UpstreamUnreachable
from mirror_tool.exitcodes import ExitCode, most_urgent
from mirror_tool.layout import DurabilityBarrier, Layout, atomic_write
from mirror_tool.logs import Progress
from mirror_tool.names import check_project_name
from mirror_tool.pages import ProjectRecord, read_root_index, render_root_html, render_root_json
from mirror_tool.project_sync import (
    Outcome,
    PublishJob,
    SyncContext,
    delete_files,
    publish_pages,
    remove_project_pages,
    sync_project,
)
from mirror_tool.state import (
    StaleEntry,
    Todo,
    clear_todo,
    read_run_state,
    read_stale,
    read_status,
    read_todo,
    write_run_state,
    write_stale,
    write_status,
    write_todo,
)
from mirror_tool.stop import StopToken

if TYPE_CHECKING:
    from mirror_tool.filters import Filter
from mirror_tool.upstream import Upstream
from mirror_tool.workers import choose_processes, start_workers

log = logging.getLogger("mirror_tool.mirror")

CHECKPOINT_SECONDS = 2.0


@dataclass
class SyncResult:
    exit_code: ExitCode
    mirror_serial: int
    upstream_serial: int
    synced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    files_downloaded: int = 0
    bytes_downloaded: int = 0
    seconds: float = 0.0


class _Run:
    """State of one run: the work list, outcomes, and the checkpoint logic."""

    def __init__(self, config: Config, stop: StopToken) -> None:
        self.config = config
        self.settings = config.mirror
        self.stop = stop
        self.internal_stop = StopToken(stop.deadline)
        self.layout = Layout(self.settings.directory)
        self.started = time.time()
        self.t0 = time.monotonic()
        self.old_status: int | None = None
        self.todo: Todo | None = None
        self.floors: dict[str, int] = {}
        self.registry: dict[str, ProjectRecord] | None = None
        self.registry_dirty = False
        self.pending_removals: list[str] = []
        self.done: set[str] = set()
        self.synced: list[str] = []
        self.failed: dict[str, str] = {}
        self.stale: dict[str, StaleEntry] = {}
        self.attempted: set[str] = set()
        self.storage_error: StorageError | None = None
        self.upstream_serial = 0
        self.upstream = Upstream(self.settings, self.internal_stop, self.layout.tmp)
        self._filter: Filter | None = None
        self.changed_tree = False
        self.checkpoint_cost = 0.0
        self.ready: list[PublishJob] = []
        self.reconciled = False
        self._stale_cache: dict[str, StaleEntry] | None = None

    @property
    def filter(self) -> "Filter":
        """The compiled filters, loaded on first use (a no-op run never needs them)."""
        if self._filter is None:
            from mirror_tool.filters import load_filter

            self._filter = load_filter(self.config)
        return self._filter

    # -- registry (root index) -------------------------------------------------------------
    def load_registry(self) -> dict[str, ProjectRecord]:
        if self.registry is None:
            self.registry = read_root_index(self.layout.simple)
        return self.registry

    # -- work ------------------------------------------------------------------------------
    def execute(self, work: dict[str, int]) -> None:
        """Sync `work` (normalized -> expected serial) with `workers` projects in flight."""
        workers = self.settings.workers
        names = sorted(work)
        progress = Progress(len(names))
        last_checkpoint = time.monotonic()
        ctx = SyncContext(
            config=self.config,
            layout=self.layout,
            upstream=self.upstream,
            filter=self.filter,
            barrier=DurabilityBarrier(self.layout.root),
            stop=self.internal_stop,
        )
        processes = choose_processes(self.settings.worker_mode, workers, len(names))
        log.debug("syncing %d projects on %d worker %s", len(names), workers, "processes" if processes else "threads")
        pool = start_workers(ctx, workers, processes)
        stats = self.upstream.stats
        in_flight: set[cf.Future[Outcome]] = set()
        names_of: dict[cf.Future[Outcome], str] = {}
        index = 0
        try:
            while index < len(names) or in_flight:
                self._propagate_stop()
                if self.internal_stop.stopped:
                    pool.request_stop(self.internal_stop.exit_code or ExitCode.INTERRUPTED)
                # A few projects queued beyond the running ones keep the workers busy while the
                # main thread checkpoints; never all of them (700k futures would cost memory).
                while index < len(names) and len(in_flight) < workers * 4 and not self.internal_stop.stopped:
                    name = names[index]
                    index += 1
                    self.attempted.add(name)
                    fut = pool.submit(name, work[name])
                    names_of[fut] = name
                    in_flight.add(fut)
                if self.internal_stop.stopped:
                    index = len(names)
                if not in_flight:
                    break
                finished, in_flight = cf.wait(in_flight, timeout=0.5, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    name = names_of.pop(fut)
                    try:
                        outcome = fut.result()
                    except StorageError as exc:
                        self._storage_failure(exc)
                        continue
                    except cf.CancelledError:
                        continue  # queued when the run stopped: stays in todo
                    except BrokenProcessPool:
                        if not self.internal_stop.stopped:
                            log.error("a worker process died (killed?): stopping; unfinished projects stay in todo")
                            self.internal_stop.set(ExitCode.FAILED)
                            self.failed[name] = "worker process died"
                        continue
                    except Exception as exc:  # noqa: BLE001 - a bug must not lose the other projects
                        log.exception("unexpected error")
                        outcome = Outcome(name, "failed", error=f"{type(exc).__name__}: {exc}")
                    if pool.separate_stats:
                        stats.add_many(outcome.files_downloaded, outcome.bytes_downloaded)
                    self._record(outcome, ctx)
                    progress.advance(stats.files, stats.bytes)
                if time.monotonic() - last_checkpoint >= max(CHECKPOINT_SECONDS, 10 * self.checkpoint_cost):
                    began = time.monotonic()
                    self.checkpoint(ctx)
                    last_checkpoint = time.monotonic()
                    self.checkpoint_cost = last_checkpoint - began  # big root indexes: checkpoint less often
        finally:
            if self.internal_stop.stopped:
                pool.request_stop(self.internal_stop.exit_code or ExitCode.INTERRUPTED)
            pool.close()
            progress.close()
        self.checkpoint(ctx)

    def _propagate_stop(self) -> None:
        if self.stop.stopped and not self.internal_stop.stopped:
            self.internal_stop.set(self.stop.exit_code or ExitCode.INTERRUPTED)

    def _storage_failure(self, exc: StorageError) -> None:
        if self.storage_error is None:
            self.storage_error = exc
            log.error("%s", exc)
        self.internal_stop.set(ExitCode.STORAGE)

    def _record(self, outcome: Outcome, ctx: SyncContext) -> None:
        name = outcome.name
        if outcome.kind == "synced":
            assert outcome.job is not None
            self.ready.append(outcome.job)  # published (and marked done) at the next checkpoint
            self.stale.pop(name, None)
        elif outcome.kind == "removed":
            if self.load_registry().pop(name, None) is not None:
                self.registry_dirty = True
            self.pending_removals.append(name)
            self.done.add(name)
            self.synced.append(name)
            self.stale.pop(name, None)
            self.changed_tree = True
        elif outcome.kind == "refused":
            self.done.add(name)
        elif outcome.kind == "stale":
            previous = read_stale_cache(self).get(name)
            self.stale[name] = StaleEntry(
                name=outcome.display_name or name,
                expected_serial=outcome.expected,
                served_serial=outcome.serial,
                urls=outcome.urls,
                first_seen=previous.first_seen if previous else time.time(),
            )
            log.warning("Package %s still stale after retries: expected %d, got %d", name, outcome.expected, outcome.serial)
        elif outcome.kind == "failed":
            self.failed[name] = outcome.error
            log.error("Failed to sync package %s: %s", name, outcome.error)
            if self.settings.stop_on_error:
                log.error("stop-on-error is set: stopping after the first failure")
                self.internal_stop.set(ExitCode.FAILED)
        # "stopped": stays in todo

    def publish_ready(self, ctx: SyncContext) -> None:
        """Publish every ready project: one flush for all their files, pages, then deletions."""
        jobs, self.ready = self.ready, []
        if not jobs:
            return
        if any(job.any_files for job in jobs):
            ctx.barrier.flush()
        dropped: list[str] = []
        try:
            for i, job in enumerate(jobs):
                dropped += publish_pages(ctx, job)
                self.load_registry()[job.name] = ProjectRecord(job.display_name, job.serial)
                self.registry_dirty = True
                self.done.add(job.name)
                self.synced.append(job.name)
                self.changed_tree = True
        except StorageError:
            self.ready = jobs[i:] + self.ready  # not published: kept (and still in todo)
            raise
        if dropped:
            ctx.barrier.flush()  # the new pages are durable before the files they dropped go
            delete_files(self.layout, dropped)

    def checkpoint(self, ctx: SyncContext | None = None) -> None:
        """Ready pages, root index, then removals, then todo and status (in that order)."""
        try:
            if ctx is not None:
                self.publish_ready(ctx)
            status = self.compute_status()
            if self.registry is not None and (self.registry_dirty or not self._root_exists()):
                self.write_root(status)
                self.registry_dirty = False
            if self.pending_removals and ctx is not None:
                for name in self.pending_removals:
                    remove_project_pages(ctx, name)
                self.pending_removals.clear()
            if self.todo is not None:
                remaining = {n: s for n, s in self.todo.projects.items() if n not in self.done}
                if remaining:
                    write_todo(self.layout, Todo(self.todo.target_serial, remaining))
                else:
                    clear_todo(self.layout)
            if (self.old_status is None and self.todo is not None) or (self.old_status is not None and status > self.old_status):
                write_status(self.layout, status)
                self.old_status = status
        except StorageError as exc:
            self._storage_failure(exc)

    def _root_exists(self) -> bool:
        return (self.layout.simple / "index.html").exists() or (self.layout.simple / "index.v1_json").exists()

    def compute_status(self) -> int:
        """Highest serial S with every change <= S on disk."""
        old = self.old_status or 0
        if self.todo is None:
            return old
        remaining = [n for n in self.todo.projects if n not in self.done]
        if not remaining:
            return max(old, self.todo.target_serial)
        bound = min(self.floors.get(n, old + 1) - 1 for n in remaining)
        return max(old, min(self.todo.target_serial, bound))

    def write_root(self, status: int) -> None:
        registry = self.load_registry()
        fmt = self.settings.simple_format
        if fmt in ("ALL", "JSON"):
            atomic_write(self.layout.simple / "index.v1_json", render_root_json(registry, status))
        if fmt in ("ALL", "HTML"):
            page = render_root_html(registry)
            atomic_write(self.layout.simple / "index.v1_html", page)
            atomic_write(self.layout.simple / "index.html", page)
        stale_kinds = {"HTML": ["index.v1_json"], "JSON": ["index.html", "index.v1_html"]}.get(fmt, [])
        for name in stale_kinds:
            try:
                (self.layout.simple / name).unlink()
            except OSError:
                pass

    # -- end of run ------------------------------------------------------------------------
    def finish(self, *, feed_error: MirrorError | None, requested: list[str] | None = None) -> SyncResult:
        """Write stale.json, state.json and last-modified; log the summary; build the result."""
        state = read_run_state(self.layout) if self.layout.root.exists() else None
        todo = self.todo if self.todo is not None else read_todo(self.layout)
        remaining = set(todo.projects) - self.done if todo else set()
        previous_stale = read_stale_cache(self)
        stale = dict(self.stale)
        for name, entry in previous_stale.items():
            if name not in self.attempted and name in remaining:
                stale[name] = entry
        status = self.compute_status()
        codes = []
        if feed_error is not None:
            codes.append(feed_error.exit_code)
        if self.storage_error is not None:
            codes.append(ExitCode.STORAGE)
        if self.stop.exit_code is not None:
            codes.append(self.stop.exit_code)
        elif self.internal_stop.exit_code not in (None, ExitCode.FAILED, ExitCode.STORAGE):
            codes.append(self.internal_stop.exit_code)  # type: ignore[arg-type]
        if self.failed:
            codes.append(ExitCode.FAILED)
        relevant_stale = [n for n in stale if requested is None or n in requested]
        if relevant_stale:
            codes.append(ExitCode.STALE)
        code = most_urgent(*codes)
        elapsed = time.monotonic() - self.t0
        try:
            if self.layout.root.exists() and not isinstance(feed_error, StorageError):
                write_stale(self.layout, stale)
                if state is not None:
                    failing = {n: e for n, e in state.failing.items() if n in remaining and n not in self.attempted}
                    failing.update(self.failed)
                    state.failing = failing
                    state.upstream_serial = max(state.upstream_serial, self.upstream_serial)
                    state.last_run_start = self.started
                    state.last_run_end = time.time()
                    if code == ExitCode.OK:
                        state.last_success = state.last_run_end
                    if self.reconciled or state.last_reconcile is None:
                        state.last_reconcile = self.started
                    write_run_state(self.layout, state)
                if self.changed_tree:
                    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H:%M:%S")
                    atomic_write(self.layout.last_modified, (stamp + "\n").encode())
        except StorageError as exc:
            self._storage_failure(exc)
            code = most_urgent(code, ExitCode.STORAGE)
        self.upstream.close()
        stats = self.upstream.stats
        result = SyncResult(
            exit_code=code,
            mirror_serial=status,
            upstream_serial=max(self.upstream_serial, status),
            synced=sorted(set(self.synced)),
            failed=dict(sorted(self.failed.items())),
            stale=sorted(relevant_stale),
            files_downloaded=stats.files,
            bytes_downloaded=stats.bytes,
            seconds=round(elapsed, 3),
        )
        log.info(
            "Sync finished: %d projects, %d files, %d bytes, %.1f seconds, %d stale, %d failed",
            len(result.synced),
            result.files_downloaded,
            result.bytes_downloaded,
            elapsed,
            len(result.stale),
            len(result.failed),
        )
        return result


def read_stale_cache(run: _Run) -> dict[str, StaleEntry]:
    """stale.json as it was when the run started (read once)."""
    if run._stale_cache is None:
        run._stale_cache = read_stale(run.layout)
    return run._stale_cache


def run_mirror(config: Config, *, stop: StopToken | None = None) -> SyncResult:
    """Incremental sync (the first run is a full sync); see the module docstring."""
    stop = stop or StopToken()
    run = _Run(config, stop)
    layout = run.layout
    try:
        layout.prepare()
        run.old_status = read_status(layout)
        todo = read_todo(layout)
        state = read_run_state(layout)
        settings = config.mirror
        run.upstream_serial = state.upstream_serial
        if run.old_status is None and todo is None:
            log.info("No mirror serial yet: full sync")
            changes = full_listing(run.upstream, settings.changelog_source)
        else:
            cursor = max(run.old_status or 0, todo.target_serial if todo else 0)
            interval = settings.reconcile_interval * 3600.0
            # No reconciliation on record (e.g. a tree taken over from bandersnatch): start the
            # interval clock now instead of fetching the whole index on the first run.
            reconcile_due = interval == 0 or (
                state.last_reconcile is not None and time.time() - state.last_reconcile >= interval
            )
            changes = collect_changes(
                run.upstream,
                source=settings.changelog_source,
                cursor=cursor,
                reconcile_due=reconcile_due,
                load_local=run.load_registry,
            )
        run.reconciled = changes.reconciled
        run.upstream_serial = max(run.upstream_serial, changes.target_serial)
        admitted = _admitted(run, changes)
        work = dict(todo.projects) if todo else {}
        carried_floor = (run.old_status or 0) + 1
        for name in work:
            run.floors[name] = carried_floor
        for name, serial in admitted.items():
            work[name] = max(work.get(name, 0), serial)
            floor = changes.floors.get(name, serial)
            run.floors[name] = min(run.floors.get(name, floor), floor)
        target = max(changes.target_serial, todo.target_serial if todo else 0, run.old_status or 0)
        run.todo = Todo(target, work)
        if work:
            write_todo(layout, run.todo)
            log.info("%d projects to sync up to serial %d", len(work), target)
        if run.old_status is None and not work:
            run.load_registry()  # first run against an empty upstream: still publish an index
        if work:
            run.execute(work)
        else:
            run.checkpoint()
        return run.finish(feed_error=None)
    except UpstreamUnreachable as exc:
        log.error("%s", exc)
        return run.finish(feed_error=exc)
    except StorageError as exc:
        run._storage_failure(exc)
        return run.finish(feed_error=exc)


def _admitted(run: _Run, changes: Changes) -> dict[str, int]:
    """Changed projects the filters admit (others are neither fetched nor queued)."""
    return {name: serial for name, serial in changes.projects.items() if run.filter.admits_project(name)}


def run_sync(config: Config, names: list[str], *, stop: StopToken | None = None) -> SyncResult:
    """Sync these projects now, checking each against the serial the feed promised for it."""
    stop = stop or StopToken()
    run = _Run(config, stop)
    layout = run.layout
    try:
        layout.prepare()
        run.old_status = read_status(layout)
        run.todo = read_todo(layout)
        state = read_run_state(layout)
        run.upstream_serial = state.upstream_serial
        stale_before = read_stale_cache(run)
        if run.todo is not None:
            carried_floor = (run.old_status or 0) + 1
            run.floors = {n: carried_floor for n in run.todo.projects}
        work: dict[str, int] = {}
        requested: list[str] = []
        for raw in names:
            try:
                norm = check_project_name(raw)
            except MirrorError as exc:
                log.error("%s", exc)
                run.failed[raw] = str(exc)
                continue
            requested.append(norm)
            expected = 0
            if run.todo is not None:
                expected = run.todo.projects.get(norm, 0)
            if norm in stale_before:
                expected = max(expected, stale_before[norm].expected_serial)
            work[norm] = expected
        run.execute(work)
        return run.finish(feed_error=None, requested=requested)
    except StorageError as exc:
        run._storage_failure(exc)
        return run.finish(feed_error=exc, requested=list(names))
