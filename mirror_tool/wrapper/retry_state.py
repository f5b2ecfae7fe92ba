"""Cross-run memory of the wrapper: per-project retry schedule, last success, PURGE counters.

A project whose CDN copy stays stale must not be PURGEd and re-synced on every cron tick, nor
block the rest of the mirror. Each time the wrapper tries it (PURGE + re-sync) and it is still
stale, the next try is pushed out by `retry-interval * 2**(attempts-1)`, capped at
`retry-interval-max`. File format (JSON, written atomically):

    {"version": 1,
     "last_success": 1764400000.0 | null,
     "last_exit_code": 0 | null,
     "counters": {"purges_sent": 0, "purges_failed": 0, "purges_unauthorized": 0},
     "projects": {"<normalized>": {"attempts": 2, "first_seen": ..., "last_attempt": ...,
                                   "next_attempt": ...}}}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mirror_tool.state import load_document, save_document

STATE_VERSION = 1
COUNTER_NAMES = ("purges_sent", "purges_failed", "purges_unauthorized")


@dataclass
class ProjectRetry:
    """Retry schedule of one project that is still stale."""

    attempts: int
    first_seen: float
    last_attempt: float | None
    next_attempt: float


@dataclass(frozen=True)
class RetryPolicy:
    """Cross-run intervals from `[wrapper] retry-interval` / `retry-interval-max`."""

    interval: float
    interval_max: float

    def delay_after(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed try (1 -> interval, 2 -> 2*interval...)."""
        if attempts <= 0:
            return 0.0
        exponent = min(attempts - 1, 62)
        return min(self.interval * (2**exponent), self.interval_max)


@dataclass
class WrapperState:
    """Everything the wrapper carries from one run to the next."""

    projects: dict[str, ProjectRetry] = field(default_factory=dict)
    last_success: float | None = None
    #: Exit code of the last run (`status` and playbooks/status.yml show it).
    last_exit_code: int | None = None
    counters: dict[str, int] = field(default_factory=lambda: {name: 0 for name in COUNTER_NAMES})

    def is_due(self, name: str, now: float) -> bool:
        """True when `name` has no schedule yet or its next try time has come."""
        entry = self.projects.get(name)
        return entry is None or now >= entry.next_attempt

    def note_seen(self, name: str, first_seen: float, now: float) -> ProjectRetry:
        """Make sure a stale project has an entry (due now), keeping an existing schedule."""
        entry = self.projects.get(name)
        if entry is None:
            entry = ProjectRetry(attempts=0, first_seen=first_seen, last_attempt=None, next_attempt=now)
            self.projects[name] = entry
        return entry

    def record_failed_attempt(self, name: str, first_seen: float, now: float, policy: RetryPolicy) -> ProjectRetry:
        """The wrapper tried `name` this run and it is still stale: push its next try out."""
        entry = self.note_seen(name, first_seen, now)
        entry.attempts += 1
        entry.last_attempt = now
        entry.next_attempt = now + policy.delay_after(entry.attempts)
        return entry

    def forget(self, names: set[str] | list[str]) -> None:
        """Drop the schedules of projects that are fresh again."""
        for name in names:
            self.projects.pop(name, None)

    def add_counters(self, **increments: int) -> None:
        """Add this run's PURGE numbers to the cumulative counters."""
        for name, value in increments.items():
            self.counters[name] = self.counters.get(name, 0) + int(value)

    def to_json(self) -> str:
        """Serialized form (see module docstring)."""
        data = {
            "version": STATE_VERSION,
            "last_success": self.last_success,
            "last_exit_code": self.last_exit_code,
            "counters": dict(self.counters),
            "projects": {name: asdict(entry) for name, entry in sorted(self.projects.items())},
        }
        return json.dumps(data, indent=1, sort_keys=True) + "\n"


def _number(value: object, default: float | None) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def parse_state(data: bytes | str) -> WrapperState:
    """Parse the state file; raises ValueError (or KeyError, TypeError) on anything that is not
    our format, invalid UTF-8 included."""
    data = json.loads(data)
    if not isinstance(data, dict) or not isinstance(data.get("projects", {}), dict):
        raise ValueError("not a wrapper state object")
    state = WrapperState(last_success=_number(data.get("last_success"), None))
    code = data.get("last_exit_code")
    state.last_exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
    counters = data.get("counters", {})
    if isinstance(counters, dict):
        for name in COUNTER_NAMES:
            value = counters.get(name, 0)
            state.counters[name] = int(value) if isinstance(value, int) and value >= 0 else 0
    for name, raw in data.get("projects", {}).items():
        if not isinstance(raw, dict):
            raise ValueError(f"project {name!r} is not an object")
        state.projects[str(name)] = ProjectRetry(
            attempts=int(raw.get("attempts", 0)),
            first_seen=float(raw["first_seen"]),
            last_attempt=_number(raw.get("last_attempt"), None),
            next_attempt=float(raw.get("next_attempt", 0.0)),
        )
    return state


def load_state(path: Path) -> WrapperState:
    """Read the state file; a missing one starts fresh, an unreadable one is moved aside by the
    state module and starts fresh too (it must never stop a sync)."""
    return load_document(path, "wrapper state", parse_state) or WrapperState()


def save_state(path: Path, state: WrapperState) -> None:
    """Write the state file atomically (and durably: the wrapper writes it outside any flush)."""
    save_document(path, state.to_json().encode("utf-8"), fsync=True)
