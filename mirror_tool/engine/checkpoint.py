"""One run's bookkeeping: its work list and outcomes, and the checkpoint that publishes them.

A checkpoint publishes every project whose files are verified and withdraws removed ones (the
`Publisher` orders the writes and flushes), then shrinks `todo` and advances `status`. `status`
is the highest serial S with every change <= S on disk: the target serial once `todo` is empty,
otherwise just below the lowest change of a project still queued.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from mirror_tool.config import Config
from mirror_tool.engine.publisher import Publisher
from mirror_tool.engine.sync import Outcome
from mirror_tool.errors import StorageError
from mirror_tool.exitcodes import ExitCode
from mirror_tool.pending import PendingJournal
from mirror_tool.state import RunState, StaleEntry, StateFiles, Todo
from mirror_tool.stop import StopToken
from mirror_tool.storage import open_storage
from mirror_tool.storage.base import Storage
from mirror_tool.upstream.client import Upstream
from mirror_tool.upstream.hub import open_upstream

if TYPE_CHECKING:
    from mirror_tool.filters import FilterChain

log = logging.getLogger("mirror_tool.mirror")


class Run:
    """State of one run: the work list, outcomes, and the checkpoint logic."""

    def __init__(self, config: Config, stop: StopToken, storage: Storage | None = None) -> None:
        self.config = config
        self.settings = config.mirror
        self.stop = stop
        self.internal_stop = stop.linked()
        self.state = StateFiles(self.settings.directory)
        self.storage = storage if storage is not None else open_storage(self.settings)
        self.journal = PendingJournal(self.settings.directory)
        self.publisher = Publisher(self.storage, self.settings, self.journal)
        self.upstream: Upstream = open_upstream(self.settings, self.internal_stop)  # the run's one HTTP setup
        self.started = time.time()
        self.t0 = time.monotonic()
        self.old_status: int | None = None
        self.run_state = RunState()
        self.upstream_serial = 0
        self.prior_todo: Todo | None = None  # as the last run left it
        self.todo: Todo | None = None
        self.floors: dict[str, int] = {}
        self.done: set[str] = set()
        self.synced: list[str] = []
        self.failed: dict[str, str] = {}
        self.stale: dict[str, StaleEntry] = {}
        self.attempted: set[str] = set()
        self.ready: list[Outcome] = []  # synced, published at the next checkpoint
        self.removed: list[str] = []  # gone upstream, withdrawn at the next checkpoint
        self.storage_error: StorageError | None = None
        self.checkpoint_cost = 0.0
        #: Keys the workers stored (downloads) for published projects: `diff-file`.
        self.downloaded: list[str] = []
        self.reconciled = False
        #: The upstream's serial was checked against the mirror's this run (and not found lower).
        self.serial_checked = False
        self.adopted = False
        self._filters: FilterChain | None = None
        self._stale_before: dict[str, StaleEntry] | None = None

    def prepare(self) -> None:
        """Directories and stray temporaries; a tree bandersnatch left is adopted (engine/adopt.py);
        then what the last run left (status, state.json, todo); then the deletions and stored
        files a killed run left on the pending journal are finished.

        The order matters: adoption turns bandersnatch's text `todo` into ours (read before it,
        it would be moved aside as unreadable) and seeds the root index; the journal's recovery
        needs that `todo` (projects still queued keep their records for their re-sync), and an
        adopted tree has no journal of ours unless a run of ours over it was killed.
        """
        from mirror_tool.engine.adopt import adopt_if_needed

        self.state.prepare()
        self.storage.prepare()
        self.adopted = adopt_if_needed(self.config, self.storage, self.publisher, self.state) is not None
        self.old_status = self.state.read_status()
        self.run_state = self.state.read_run_state()
        self.upstream_serial = self.run_state.upstream_serial
        self.prior_todo = self.state.read_todo()
        self.publisher.recover(set(self.prior_todo.projects) if self.prior_todo else set())

    @property
    def filters(self) -> "FilterChain":
        """The compiled filters, loaded on first use (a run with nothing to do never needs them)."""
        if self._filters is None:
            from mirror_tool.filters import load_filters

            self._filters = load_filters(self.config)
        return self._filters

    def previous_stale(self) -> dict[str, StaleEntry]:
        """stale.json as it was when the run started (read once)."""
        if self._stale_before is None:
            self._stale_before = self.state.read_stale()
        return self._stale_before

    def propagate_stop(self) -> None:
        if self.stop.stopped and not self.internal_stop.stopped:
            self.internal_stop.set(self.stop.exit_code or ExitCode.INTERRUPTED)

    def storage_failure(self, exc: StorageError) -> None:
        if self.storage_error is None:
            self.storage_error = exc
            log.error("%s", exc)
        self.internal_stop.set(ExitCode.STORAGE)

    def fail(self, name: str, error: str) -> None:
        self.failed[name] = error
        log.error("Failed to sync package %s: %s", name, error)
        if self.settings.stop_on_error:
            log.error("stop-on-error is set: stopping after the first failure")
            self.internal_stop.set(ExitCode.FAILED)

    def record(self, outcome: Outcome) -> None:
        name = outcome.name
        if outcome.kind == "synced":
            self.ready.append(outcome)  # published (and marked done) at the next checkpoint
            self.stale.pop(name, None)
        elif outcome.kind in ("removed", "excluded"):
            self.removed.append(name)
            self.done.add(name)
            self.synced.append(name)
            self.stale.pop(name, None)
        elif outcome.kind == "refused":
            self.done.add(name)
        elif outcome.kind == "stale":
            previous = self.previous_stale().get(name)
            self.stale[name] = StaleEntry(
                name=outcome.display_name or name,
                expected_serial=outcome.expected,
                served_serial=outcome.serial,
                urls=outcome.urls,
                first_seen=previous.first_seen if previous else time.time(),
            )
            log.warning("Package %s still stale after retries: expected %d, got %d", name, outcome.expected, outcome.serial)
        elif outcome.kind == "failed":
            self.fail(name, outcome.error)
        # "stopped": stays in todo

    def checkpoint(self) -> None:
        """Publish ready projects, withdraw removed ones, commit; then `todo`, then `status`."""
        try:
            ready, self.ready = self.ready, []
            try:
                failed = self.publisher.publish([o.project for o in ready if o.project is not None],
                                                new_files=any(o.new_files for o in ready))
            except StorageError:
                self.ready = ready + self.ready  # not published: kept (and still in todo)
                raise
            for outcome in ready:
                if outcome.name in failed:
                    self.fail(outcome.name, failed[outcome.name])
                else:
                    self.done.add(outcome.name)
                    self.synced.append(outcome.name)
                    if self.publisher.written is not None:
                        self.downloaded += outcome.written
            removed, self.removed = self.removed, []
            self.publisher.withdraw(removed, delete_files=self.settings.delete_packages and self.settings.release_files)
            status = self.compute_status()
            self.publisher.commit(status)  # everything published so far is durable from here
            rebase = self.todo is not None and self.todo.reconcile
            if rebase and status != self.old_status:
                # The end of a reconciliation: `status` first, so that a kill before `todo` goes
                # leaves a todo that still says where the mirror's serial comes from.
                self.state.write_status(status)
                self.old_status = status
            if self.todo is not None:
                remaining = {n: s for n, s in self.todo.projects.items() if n not in self.done}
                if remaining:
                    self.state.write_todo(replace(self.todo, projects=remaining))
                else:
                    self.state.clear_todo()
            if (self.old_status is None and self.todo is not None) or (self.old_status is not None and status > self.old_status):
                self.state.write_status(status)
                self.old_status = status
        except StorageError as exc:
            self.storage_failure(exc)

    def compute_status(self) -> int:
        """Highest serial S with every change <= S on disk (a reconciliation: its serial once done)."""
        old = self.old_status or 0
        if self.todo is None:
            return old
        remaining = [n for n in self.todo.projects if n not in self.done]
        if self.todo.reconcile:
            return old if remaining else self.todo.target_serial
        if not remaining:
            return max(old, self.todo.target_serial)
        bound = min(self.floors.get(n, old + 1) - 1 for n in remaining)
        return max(old, min(self.todo.target_serial, bound))


__all__ = ["Run"]
