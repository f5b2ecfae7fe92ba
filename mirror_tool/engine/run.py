"""`run_mirror` (incremental; the first run is full) and `run_sync` (named projects now).

The engine persists `todo` before any project work, hands projects to the workers, and
checkpoints periodically: the `Publisher` publishes the projects whose files are verified and
commits (root index, removals, flush, deletions), then `todo` shrinks and `status` advances. A
kill at any point therefore resumes from `todo` with a consistent tree, and `status` never
reaches the disk before the pages it covers. Neither function takes the lock.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from mirror_tool.config import Config
from mirror_tool.engine.changefeed import Changes, collect_changes, full_listing
from mirror_tool.engine.checkpoint import Run
from mirror_tool.engine.reconcile import FullCheck, SerialGuard, full_diff
from mirror_tool.engine.sync import Outcome, SyncContext
from mirror_tool.errors import MirrorError, StorageError, UpstreamRegressed, UpstreamUnreachable
from mirror_tool.exitcodes import ExitCode, most_urgent
from mirror_tool.logs import Progress
from mirror_tool.net import Stopped
from mirror_tool.names import check_project_name
from mirror_tool.state import Regression, RunState, Todo
from mirror_tool.stop import StopToken
from mirror_tool.storage.base import Storage

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
    #: The upstream's serial was below the mirror's (exit 8; `upstream_serial` is the upstream's).
    regressed: bool = False


def run_mirror(config: Config, *, stop: StopToken | None = None, storage: Storage | None = None,
               full_check: FullCheck | None = None) -> SyncResult:
    """Incremental sync (the first run is a full sync); see the module docstring.

    `storage`: where the tree lives (default: the filesystem below `<directory>/web`).
    `full_check`: diff the whole tree against the upstream's full listing (`mirror --reconcile`
    accepts its serial even when lower, `mirror --force-check` re-checks every project; reconcile.py)."""
    run = Run(config, stop or StopToken(), storage)
    if config.mirror.upstream_kind == "mirror" and full_check is None:
        from mirror_tool.engine.replica import follow_hub

        return follow_hub(run, _mirror)
    return _mirror(run, lambda run, todo: _changes(run, todo, full_check), full_check)


def upstream_changes(run: Run, todo: Todo | None) -> Changes:
    """What changed on a PyPI upstream (a replica's fallback): the first full listing, or the
    feed after the cursor."""
    return _changes(run, todo, None)


def _mirror(run: Run, find_changes: Callable[[Run, Todo | None], Changes],
            full_check: FullCheck | None = None) -> SyncResult:
    """One incremental run: `find_changes` says what changed (the PyPI feed, or a hub's journal)."""
    try:
        run.prepare()
        todo = run.prior_todo
        changes = find_changes(run, todo)
        run.serial_checked = True
        run.reconciled = changes.reconciled
        rebase = (full_check is not None and full_check.rebase) or (todo is not None and todo.reconcile)
        # A reconciliation takes the upstream's serial as it is, even below the mirror's.
        run.upstream_serial = changes.target_serial if rebase else max(run.upstream_serial, changes.target_serial)
        admitted = {name: serial for name, serial in changes.projects.items() if run.filters.admits_project(name)}
        work = dict(todo.projects) if todo and full_check is None else {}  # a full check re-queues todo itself
        carried_floor = (run.old_status or 0) + 1
        for name in work:
            run.floors[name] = carried_floor
        for name, serial in admitted.items():
            work[name] = max(work.get(name, 0), serial)
            floor = changes.floors.get(name, serial)
            run.floors[name] = min(run.floors.get(name, floor), floor)
        if rebase:
            target = changes.target_serial if full_check is not None else max(changes.target_serial, todo.target_serial)
        else:
            target = max(changes.target_serial, todo.target_serial if todo else 0, run.old_status or 0)
        run.todo = Todo(target, work, reconcile=rebase)
        if work:
            run.state.write_todo(run.todo)
            log.info("%d projects to sync up to serial %d", len(work), target)
        if run.old_status is None and not work:
            run.publisher.index()  # first run against an empty upstream: still publish an index
        if work:
            execute(run, work)
        else:
            run.checkpoint()
        return finish(run, feed_error=None)
    except (UpstreamUnreachable, UpstreamRegressed) as exc:
        log.error("%s", exc)
        return finish(run, feed_error=exc)
    except Stopped:  # SIGTERM or the time limit while the change feed was in flight
        return finish(run, feed_error=None)
    except StorageError as exc:
        run.storage_failure(exc)
        return finish(run, feed_error=exc)


def _changes(run: Run, todo: Todo | None, full_check: FullCheck | None) -> Changes:
    """What this run syncs: the full diff (`full_check`), the first full listing, or the changes
    after the cursor, checked by the serial guard (UpstreamRegressed before anything is synced)."""
    settings = run.settings
    if full_check is None and run.old_status is None and todo is None:
        log.info("No mirror serial yet: full sync")
        return full_listing(run.upstream, settings.changelog_source)
    if todo is not None and todo.reconcile:
        cursor = todo.target_serial  # a reconciliation in progress: the accepted serial counts
    else:
        cursor = max(run.old_status or 0, todo.target_serial if todo else 0)
    guard = SerialGuard(cursor, run.internal_stop, rechecks=settings.stale_retries, backoff=settings.stale_backoff)
    if full_check is not None:
        log.info("Full %s: comparing every project with the upstream's full listing", full_check.label)
        return full_diff(run.upstream, settings.changelog_source, run.publisher.index(),
                         every_project=full_check.every_project, also=todo.projects if todo else (),
                         guard=None if full_check.rebase else guard)
    return collect_changes(
        run.upstream,
        source=settings.changelog_source,
        cursor=cursor,
        reconcile_due=reconcile_due(run),
        load_local=run.publisher.rows,
        load_document=run.publisher.root_document,
        guard=guard,
    )


def reconcile_due(run: Run) -> bool:
    """`reconcile-interval` has passed since the last reconciliation. No reconciliation on record
    (e.g. a tree taken over from bandersnatch): the interval clock starts now instead of fetching
    the whole index on the first run."""
    interval = run.settings.reconcile_interval * 3600.0
    last = run.run_state.last_reconcile
    return interval == 0 or (last is not None and time.time() - last >= interval)


def run_sync(config: Config, names: list[str], *, stop: StopToken | None = None, storage: Storage | None = None) -> SyncResult:
    """Sync these projects now, checking each against the serial the feed promised for it."""
    run = Run(config, stop or StopToken(), storage)
    try:
        run.prepare()
        run.todo = run.prior_todo
        stale_before = run.previous_stale()
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
            expected = run.todo.projects.get(norm, 0) if run.todo is not None else 0
            if norm in stale_before:
                expected = max(expected, stale_before[norm].expected_serial)
            work[norm] = expected
        execute(run, work)
        return finish(run, feed_error=None, requested=requested)
    except StorageError as exc:
        run.storage_failure(exc)
        return finish(run, feed_error=exc, requested=list(names))


def execute(run: Run, work: dict[str, int]) -> None:
    """Sync `work` (normalized -> expected serial) with `workers` projects in flight."""
    from concurrent.futures.process import BrokenProcessPool  # a run with nothing to do never forks

    from mirror_tool.engine.workers import choose_processes, start_workers

    settings = run.settings
    workers = settings.workers
    names = sorted(work)
    progress = Progress(len(names))
    last_checkpoint = time.monotonic()
    ctx = SyncContext(settings=settings, storage=run.storage, upstream=run.upstream, filters=run.filters,
                      stop=run.internal_stop, pending=run.journal)
    processes = choose_processes(settings.worker_mode, workers, len(names))
    log.debug("syncing %d projects on %d worker %s", len(names), workers, "processes" if processes else "threads")
    pool = start_workers(ctx, workers, processes)
    stats = run.upstream.stats
    in_flight: set[cf.Future[Outcome]] = set()
    names_of: dict[cf.Future[Outcome], str] = {}
    index = 0
    try:
        while index < len(names) or in_flight:
            run.propagate_stop()
            if run.internal_stop.stopped:
                pool.request_stop(run.internal_stop.exit_code or ExitCode.INTERRUPTED)
            # A few projects queued beyond the running ones keep the workers busy while the
            # main thread checkpoints; never all of them (700k futures would cost memory).
            while index < len(names) and len(in_flight) < workers * 4 and not run.internal_stop.stopped:
                name = names[index]
                index += 1
                run.attempted.add(name)
                fut = pool.submit(name, work[name])
                names_of[fut] = name
                in_flight.add(fut)
            if run.internal_stop.stopped:
                index = len(names)
            if not in_flight:
                break
            finished, in_flight = cf.wait(in_flight, timeout=0.5, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                name = names_of.pop(fut)
                try:
                    outcome = fut.result()
                except StorageError as exc:
                    run.storage_failure(exc)
                    continue
                except cf.CancelledError:
                    continue  # queued when the run stopped: stays in todo
                except BrokenProcessPool:
                    if not run.internal_stop.stopped:
                        log.error("a worker process died (killed?): stopping; unfinished projects stay in todo")
                        run.internal_stop.set(ExitCode.FAILED)
                        run.failed[name] = "worker process died"
                    continue
                except Exception as exc:  # noqa: BLE001 - a bug must not lose the other projects
                    log.exception("unexpected error")
                    outcome = Outcome(name, "failed", error=f"{type(exc).__name__}: {exc}")
                if pool.separate_stats:
                    stats.add_many(outcome.files_downloaded, outcome.bytes_downloaded)
                run.record(outcome)
                progress.advance(stats.files, stats.bytes)
            if time.monotonic() - last_checkpoint >= max(CHECKPOINT_SECONDS, 10 * run.checkpoint_cost):
                began = time.monotonic()
                run.checkpoint()
                last_checkpoint = time.monotonic()
                run.checkpoint_cost = last_checkpoint - began  # big root indexes: checkpoint less often
    finally:
        if run.internal_stop.stopped:
            pool.request_stop(run.internal_stop.exit_code or ExitCode.INTERRUPTED)
        pool.close()
        progress.close()
    run.checkpoint()


def finish(run: Run, *, feed_error: MirrorError | None, requested: list[str] | None = None) -> SyncResult:
    """Write stale.json, state.json and last-modified; log the summary; build the result."""
    state = run.state.read_run_state() if run.state.exists() else None
    todo = run.todo if run.todo is not None else run.state.read_todo()
    remaining = set(todo.projects) - run.done if todo else set()
    stale = dict(run.stale)
    for name, entry in run.previous_stale().items():
        if name not in run.attempted and name in remaining:
            stale[name] = entry
    status = run.compute_status()
    codes = []
    if feed_error is not None:
        codes.append(feed_error.exit_code)
    if run.storage_error is not None:
        codes.append(run.storage_error.exit_code)
    if run.stop.exit_code is not None:
        codes.append(run.stop.exit_code)
    elif run.internal_stop.exit_code not in (None, ExitCode.FAILED, ExitCode.STORAGE, ExitCode.CREDENTIALS):
        codes.append(run.internal_stop.exit_code)  # type: ignore[arg-type]
    if run.failed:
        codes.append(ExitCode.FAILED)
    relevant_stale = [n for n in stale if requested is None or n in requested]
    if relevant_stale:
        codes.append(ExitCode.STALE)
    code = most_urgent(*codes)
    elapsed = time.monotonic() - run.t0
    try:
        if run.state.exists() and not isinstance(feed_error, StorageError):
            run.state.write_stale(stale)
            if state is not None:
                failing = {n: e for n, e in state.failing.items() if n in remaining and n not in run.attempted}
                failing.update(run.failed)
                state.failing = failing
                state.upstream_serial = max(state.upstream_serial, run.upstream_serial)
                state.last_run_start = run.started
                state.last_run_end = time.time()
                if code == ExitCode.OK:
                    state.last_success = state.last_run_end
                if run.reconciled or state.last_reconcile is None:
                    state.last_reconcile = run.started
                if run.todo is not None and run.todo.reconcile:
                    state.upstream_serial = run.upstream_serial  # the accepted upstream's, even if lower
                _note_regression(state, feed_error, cleared=run.serial_checked)
                run.state.write_run_state(state)
            if run.publisher.changed:
                run.publisher.touch_last_modified()
            if run.publisher.written is not None:
                from mirror_tool.engine.diff_file import write_diff

                write_diff(run.config, [*run.downloaded, *run.publisher.written], run.started)
    except StorageError as exc:
        run.storage_failure(exc)
        code = most_urgent(code, exc.exit_code)
    run.upstream.close()
    stats = run.upstream.stats
    regressed = isinstance(feed_error, UpstreamRegressed)
    result = SyncResult(
        exit_code=code,
        mirror_serial=status,
        upstream_serial=feed_error.upstream_serial if isinstance(feed_error, UpstreamRegressed) else max(run.upstream_serial, status),
        regressed=regressed,
        synced=sorted(set(run.synced)),
        failed=dict(sorted(run.failed.items())),
        stale=sorted(relevant_stale),
        files_downloaded=stats.files,
        bytes_downloaded=stats.bytes,
        seconds=round(elapsed, 3),
    )
    log.info(
        "Sync finished: %d projects, %d files, %d bytes, %.1f seconds, %d stale, %d failed",
        len(result.synced), result.files_downloaded, result.bytes_downloaded, elapsed, len(result.stale), len(result.failed),
    )
    return result


def _note_regression(state: RunState, error: MirrorError | None, *, cleared: bool) -> None:
    """state.json `upstream_regressed`: set (keeping when it was first seen) by a run the serial
    guard stopped; cleared by a run that got past the guard."""
    if isinstance(error, UpstreamRegressed):
        now = time.time()
        first = state.regressed.first_seen if state.regressed is not None else now
        state.regressed = Regression(error.upstream_serial, error.mirror_serial, error.source, first, now)
    elif cleared:
        state.regressed = None


__all__ = ["FullCheck", "SyncResult", "run_mirror", "run_sync"]
