"""One run of `pypi-mirror-run`: sync, PURGE stale pages, retry them, remember, report.

The caller (cli.py) holds the mirror lock and owns logging; this module does the work in order
and always ends by saving the retry state and the metrics, whatever went wrong before.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from mirror_tool.config import Config
from mirror_tool.errors import MirrorError, StorageError
from mirror_tool.exitcodes import ExitCode, most_urgent
from mirror_tool.logs import TERMINAL
from mirror_tool.engine.run import SyncResult, run_mirror, run_sync
from mirror_tool.state import StaleEntry, StateFiles
from mirror_tool.stop import StopToken
from mirror_tool.wrapper.clock import Clock, wall_clock
from mirror_tool.wrapper.fleet_metrics import fleet_metrics
from mirror_tool.wrapper.metrics import previous_value, write_metrics
from mirror_tool.wrapper.purge import PurgeReport, Purger
from mirror_tool.wrapper.run_metrics import run_metrics
from mirror_tool.wrapper.retry_state import RetryPolicy, WrapperState, load_state, save_state
from mirror_tool.wrapper.settings import RunSettings

log = logging.getLogger("pypi-mirror-run")

#: Outcomes of the main sync after which PURGE and retries make no sense this run.
_ABORTING = {
    ExitCode.CONFIG,
    ExitCode.UNREACHABLE,
    ExitCode.REGRESSED,
    ExitCode.STORAGE,
    ExitCode.TIMEOUT,
    ExitCode.INTERRUPTED,
    ExitCode.TERMINATED,
}


_STOP_REASONS = {
    ExitCode.TIMEOUT: "Time limit reached",
    ExitCode.INTERRUPTED: "Interrupted by SIGINT",
    ExitCode.TERMINATED: "Terminated by SIGTERM",
}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunRecord:
    """Numbers one run produced, for the log summary and the metrics."""

    start_wall: float
    start_mono: float
    end_wall: float = 0.0
    duration: float = 0.0
    exit_code: ExitCode = ExitCode.OK
    mirror_serial: int | None = None
    upstream_serial: int | None = None
    synced: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    files_downloaded: int = 0
    bytes_downloaded: int = 0
    stale: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    purge: PurgeReport = field(default_factory=PurgeReport)
    codes: list[ExitCode] = field(default_factory=list)
    #: The main sync found the upstream's serial below the mirror's (and synced nothing).
    regressed: bool = False

    def absorb(self, result: SyncResult) -> None:
        """Add one SyncResult (main sync or a retry) to the run's totals."""
        self.mirror_serial = result.mirror_serial
        self.regressed = self.regressed or result.regressed
        if result.upstream_serial is not None:
            self.upstream_serial = max(self.upstream_serial or 0, result.upstream_serial)
        self.synced.update(result.synced)
        for name in result.synced:
            self.failed.pop(name, None)
        self.failed.update(result.failed)
        self.files_downloaded += result.files_downloaded
        self.bytes_downloaded += result.bytes_downloaded


class WrapperRun:
    """Everything between "lock taken" and "lock released"."""

    def __init__(self, config: Config, settings: RunSettings, stop: StopToken, clock: Clock = wall_clock) -> None:
        self.config = config
        self.settings = settings
        self.stop = stop
        self.clock = clock
        self.policy = RetryPolicy(settings.retry_interval, settings.retry_interval_max)
        self.record = RunRecord(start_wall=clock(), start_mono=time.monotonic())
        self.state = WrapperState()
        self.mirror_state = StateFiles(config.mirror.directory)

    # -- the run ---------------------------------------------------------------------------------

    def execute(self) -> ExitCode:
        """Do one run; never raises (an unexpected error becomes exit 1 after state and metrics)."""
        log.info("pypi-mirror-run starting: config %s, time limit %gs", self.config.path, self.settings.time_limit)
        self.state = load_state(self.settings.state_file)
        try:
            self._sync_purge_retry()
        except MirrorError as exc:
            log.error("%s", exc)
            self.record.codes.append(exc.exit_code)
        except Exception:  # noqa: BLE001 - the run must still save state and metrics
            log.exception("pypi-mirror-run failed unexpectedly")
            self.record.codes.append(ExitCode.FAILED)
        return self._finish()

    def _sync_purge_retry(self) -> None:
        main = self._sync(lambda: run_mirror(self.config, stop=self.stop), "sync")
        stale = self._stale_projects(main)
        if main is None or main.exit_code in _ABORTING or self.stop.stopped:
            # Nothing is known to be fresh or retried: keep schedules, just report.
            now = self.clock()
            for name, project in stale.items():
                self.state.note_seen(name, project.first_seen or now, now)
            self.record.stale = sorted(stale)
            return
        self._purge_and_retry(stale)

    def _sync(self, call, what: str) -> SyncResult | None:
        try:
            result = call()
        except MirrorError as exc:
            log.error("%s: %s", what, exc)
            self.record.codes.append(exc.exit_code)
            return None
        self.record.absorb(result)
        # STALE is decided by the wrapper after its retries; every other outcome passes through.
        if result.exit_code != ExitCode.STALE:
            self.record.codes.append(ExitCode(result.exit_code))
        return result

    def _stale_projects(self, result: SyncResult | None) -> dict[str, StaleEntry]:
        """stale.json's projects, plus any the SyncResult names that the file lacks."""
        stale = self.mirror_state.read_stale()
        for name in result.stale if result is not None else []:
            stale.setdefault(name, StaleEntry(name=name, expected_serial=0, served_serial=-1, urls=[], first_seen=0.0))
        return stale

    def _purge_and_retry(self, stale: dict[str, StaleEntry]) -> None:
        now = self.clock()
        due = sorted(name for name in stale if self.state.is_due(name, now))
        deferred = sorted(name for name in stale if name not in due)
        for name in deferred:
            entry = self.state.projects[name]
            log.warning(
                "Project %s still stale after %d attempt(s) since %s; next retry at %s",
                name, entry.attempts, _iso(entry.first_seen), _iso(entry.next_attempt),
            )
        # Projects the sync found fresh no longer need a schedule.
        self.state.forget([name for name in list(self.state.projects) if name not in stale])

        if due:
            self._purge(due, stale)
        still_stale = self._retry(due) if due else []

        now = self.clock()
        for name in due:
            if name in still_stale:
                entry = self.state.record_failed_attempt(name, stale[name].first_seen or now, now, self.policy)
                log.warning(
                    "Project %s still stale after %d attempt(s) since %s; next retry at %s",
                    name, entry.attempts, _iso(entry.first_seen), _iso(entry.next_attempt),
                )
            else:
                self.state.forget([name])
        self.record.deferred = deferred
        self.record.stale = sorted(set(deferred) | set(still_stale))

    def _purge(self, due: list[str], stale: dict[str, StaleEntry]) -> None:
        if self.settings.purge == "off":
            log.info("PURGE is off; %d stale project(s) wait for the CDN TTL", len(due))
            return
        from mirror_tool.upstream.client import http_settings

        http = http_settings(self.config.mirror, upstream=self.settings.purge_url)
        purger = Purger(http, self.settings.purge_timeout, self.stop, self.settings.purge_key)
        try:
            for name in due:
                project = stale[name]
                if not purger.purge_project(project.name, project.urls, self.stop):
                    break
        finally:
            purger.close()
            self.record.purge = purger.report
        report = purger.report
        log.info("PURGE: %d sent, %d failed, %d unauthorized", report.sent, report.failed, report.unauthorized)

    def _retry(self, due: list[str]) -> list[str]:
        """Re-sync `due` with exponential backoff; returns the names still stale afterwards."""
        pending = list(due)
        attempts = self.settings.retry_attempts
        if attempts <= 0:
            return pending
        phase_end = time.monotonic() + self.settings.retry_max_time
        backoff = self.settings.retry_backoff
        for attempt in range(1, attempts + 1):
            if self.stop.stopped:
                break
            log.info(
                "Re-syncing %d stale project(s), attempt %d/%d: %s", len(pending), attempt, attempts, " ".join(pending)
            )
            names = list(pending)
            result = self._sync(lambda: run_sync(self.config, names, stop=self.stop), "re-sync")
            if result is None:
                break
            fresh = set(result.synced) - set(result.stale)
            pending = [name for name in pending if name not in fresh and name not in result.failed]
            if not pending or attempt == attempts:
                break
            delay = backoff * 2 ** (attempt - 1)
            if time.monotonic() + delay > phase_end:
                log.info("Retry phase would exceed retry-max-time (%gs); leaving it", self.settings.retry_max_time)
                break
            if self.stop.wait(delay):
                break
        return pending

    # -- the end ---------------------------------------------------------------------------------

    def _finish(self) -> ExitCode:
        record = self.record
        codes = list(record.codes)
        if record.stale:
            codes.append(ExitCode.STALE)
        if self.stop.stopped and self.stop.exit_code is not None:
            codes.append(self.stop.exit_code)
            log.warning("%s; stopped cleanly, the next run resumes", _STOP_REASONS.get(self.stop.exit_code, "Stopped"))
        record.exit_code = most_urgent(*codes)
        record.end_wall = self.clock()
        record.duration = time.monotonic() - record.start_mono
        if record.exit_code == ExitCode.OK:
            self.state.last_success = record.end_wall
        elif self.state.last_success is None and self.settings.metrics_file is not None:
            # State file lost or new: keep the last success the previous metrics file reported.
            self.state.last_success = previous_value(self.settings.metrics_file, "last_success_timestamp_seconds")
        self.state.last_exit_code = int(record.exit_code)
        self.state.add_counters(
            purges_sent=record.purge.sent,
            purges_failed=record.purge.failed,
            purges_unauthorized=record.purge.unauthorized,
        )
        try:
            save_state(self.settings.state_file, self.state)
        except StorageError as exc:
            log.error("Cannot write wrapper state: %s", exc)
            record.exit_code = most_urgent(record.exit_code, ExitCode.STORAGE)
        on_disk = self.mirror_state.read_status()  # the serial the tree really holds
        if on_disk is not None:
            record.mirror_serial = on_disk
        if self.settings.metrics_file is not None:
            try:
                write_metrics(self.settings.metrics_file, run_metrics(self.record, self.state)
                              + fleet_metrics(self.config, record.mirror_serial, record.end_wall))
            except (StorageError, OSError) as exc:
                log.error("Cannot write metrics: %s", exc)
                record.exit_code = most_urgent(record.exit_code, ExitCode.STORAGE)
        log.info(
            "pypi-mirror-run finished: exit %d, %d synced, %d failed, %d stale (%d deferred), "
            "%d PURGEs sent, %d failed, %d unauthorized, %.1f seconds",
            record.exit_code, len(record.synced), len(record.failed), len(record.stale), len(record.deferred),
            record.purge.sent, record.purge.failed, record.purge.unauthorized, record.duration,
            extra=TERMINAL,
        )
        if record.stale:
            log.warning("Stale projects remain: %s", " ".join(record.stale))
        return record.exit_code
