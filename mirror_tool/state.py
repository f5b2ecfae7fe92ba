"""The state files beside `web/`: `status`, `todo`, `state.json`, `stale.json`, `generation`, and
the reading and writing of the wrapper's state file (formats: docs/design.md).

All are replaced atomically. `todo` is written before any project work starts, so a killed run
resumes with the same work; `status` only ever names a serial whose changes are all on disk
(the engine flushes the pages first). A file that cannot be read or is not in its format (a
half-copied backup, invalid UTF-8, a hand edit gone wrong) is logged once, moved aside as
`<file>.corrupt-<UTC time>` for the operator to look at, and the run goes on from empty state:
a state file must never stop every future run.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from mirror_tool.errors import ProjectError, StorageError
from mirror_tool.storage.atomic import atomic_write, os_error

log = logging.getLogger("mirror_tool.state")

#: Layout generation recorded in `<directory>/generation`.
GENERATION = "5"
T = TypeVar("T")


def load_document(path: Path, what: str, parse: Callable[[bytes], T]) -> T | None:
    """`parse(bytes of path)`; None when the file does not exist, or when it is unreadable or
    `parse` rejects it (ValueError, KeyError, TypeError, AttributeError): then it is moved aside."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        _quarantine(path, what, exc.strerror or str(exc))
        return None
    try:
        return parse(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # UnicodeDecodeError is a ValueError
        _quarantine(path, what, str(exc) or type(exc).__name__)
        return None


def save_document(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Replace `path` atomically; StorageError (exit 7) whatever the reason: every later run
    needs its state files."""
    try:
        atomic_write(path, data, fsync=fsync)
    except ProjectError as exc:
        raise StorageError(str(exc)) from exc


def remove_document(path: Path) -> None:
    """Delete `path`; absent is fine, any other failure is a whole-run storage error (the
    document would otherwise be read again by the next run as if it still held)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise os_error(exc, str(path), "delete", whole_run=True) from exc


def _quarantine(path: Path, what: str, problem: str) -> None:
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    try:
        os.replace(path, aside)
        where = f"moved aside to {aside}"
    except OSError as exc:
        where = f"cannot move it aside: {exc.strerror or exc}"
    log.warning("Unreadable %s %s (%s); %s; starting from empty state", what, path, problem[:300], where)


def _object(data: bytes) -> dict[str, Any]:
    doc = json.loads(data)  # bytes: UTF-8 decoding errors are ValueErrors too
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


@dataclass
class Todo:
    target_serial: int
    projects: dict[str, int] = field(default_factory=dict)  # normalized name -> expected serial
    #: A reconciliation that accepted `target_serial` as the mirror's new base (`mirror --reconcile`):
    #: runs follow the upstream from it, and `status` becomes it once the work is done, even when lower.
    reconcile: bool = False


@dataclass
class Regression:
    """The upstream's serial was found below the mirror's (state.json `upstream_regressed`)."""

    upstream_serial: int
    mirror_serial: int
    source: str
    first_seen: float
    last_seen: float

    def as_json(self) -> dict[str, Any]:
        """The object state.json and `status --json` carry (the same keys in both)."""
        return asdict(self)


@dataclass
class RunState:
    upstream_serial: int = 0
    last_success: float | None = None
    last_run_start: float | None = None
    last_run_end: float | None = None
    last_reconcile: float | None = None
    failing: dict[str, str] = field(default_factory=dict)
    #: Set by a run that refused to follow an upstream whose serial went backwards; cleared by
    #: the next run that finds it caught up again, or by `mirror --reconcile`.
    regressed: Regression | None = None


@dataclass
class StaleEntry:
    name: str
    expected_serial: int
    served_serial: int
    urls: list[str]
    first_seen: float


class StateFiles:
    """The core's state files of the mirror at `directory`."""

    def __init__(self, directory: Path) -> None:
        self.root = Path(directory)
        self.status = self.root / "status"
        self.state_json = self.root / "state.json"
        self.todo = self.root / "todo"
        self.generation = self.root / "generation"
        self.stale_json = self.root / "stale.json"

    def exists(self) -> bool:
        return self.root.is_dir()

    def prepare(self) -> None:
        """Create the directory and the generation file."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not self.generation.exists():
                save_document(self.generation, (GENERATION + "\n").encode())
        except OSError as exc:
            raise os_error(exc, str(self.root), whole_run=True) from exc

    # -- status: the mirror serial (bandersnatch's format: a decimal integer) -------------------
    def read_status(self) -> int | None:
        """The mirror serial; None before the first sync started."""
        return load_document(self.status, "mirror serial", lambda data: int(data.decode("ascii").strip()))

    def write_status(self, serial: int) -> None:
        save_document(self.status, f"{serial}\n".encode())

    # -- todo: the work of an interrupted run -----------------------------------------------------
    def read_todo(self) -> Todo | None:
        def parse(data: bytes) -> Todo:
            doc = _object(data)
            return Todo(int(doc["target_serial"]), {str(k): int(v) for k, v in doc.get("projects", {}).items()},
                        reconcile=doc.get("reconcile") is True)

        return load_document(self.todo, "todo", parse)

    def write_todo(self, todo: Todo) -> None:
        doc: dict[str, Any] = {"target_serial": todo.target_serial, "projects": dict(sorted(todo.projects.items()))}
        if todo.reconcile:
            doc["reconcile"] = True
        save_document(self.todo, json.dumps(doc, separators=(",", ":")).encode())

    def clear_todo(self) -> None:
        remove_document(self.todo)

    # -- state.json ---------------------------------------------------------------------------------
    def read_run_state(self) -> RunState:
        def parse(data: bytes) -> RunState:
            doc = _object(data)
            state = RunState()
            for key in ("last_success", "last_run_start", "last_run_end", "last_reconcile"):
                value = doc.get(key)
                setattr(state, key, float(value) if isinstance(value, (int, float)) else None)
            try:
                state.upstream_serial = int(doc.get("upstream_serial", 0))
            except (TypeError, ValueError):
                pass
            failing = doc.get("failing", {})
            state.failing = {str(k): str(v) for k, v in failing.items()} if isinstance(failing, dict) else {}
            regressed = doc.get("upstream_regressed")
            if isinstance(regressed, dict):
                state.regressed = Regression(int(regressed["upstream_serial"]), int(regressed["mirror_serial"]),
                                             str(regressed.get("source", "")), float(regressed["first_seen"]),
                                             float(regressed.get("last_seen") or regressed["first_seen"]))
            return state

        return load_document(self.state_json, "run state", parse) or RunState()

    def write_run_state(self, state: RunState) -> None:
        doc = {
            "upstream_serial": state.upstream_serial,
            "last_success": state.last_success,
            "last_run_start": state.last_run_start,
            "last_run_end": state.last_run_end,
            "last_reconcile": state.last_reconcile,
            "failing": dict(sorted(state.failing.items())),
            "upstream_regressed": None if state.regressed is None else state.regressed.as_json(),
        }
        save_document(self.state_json, json.dumps(doc, indent=1).encode())

    # -- stale.json: projects a CDN served with an old serial (read by the wrapper too) -------------
    def read_stale(self) -> dict[str, StaleEntry]:
        def parse(data: bytes) -> dict[str, StaleEntry]:
            projects = _object(data).get("projects", {})
            return {
                str(k): StaleEntry(
                    name=str(v.get("name") or k),
                    expected_serial=int(v.get("expected_serial", 0)),
                    served_serial=int(v.get("served_serial", -1)),
                    urls=[str(u) for u in v.get("urls", []) if isinstance(u, str)],
                    first_seen=float(v.get("first_seen") or 0.0),
                )
                for k, v in projects.items()
            }

        return load_document(self.stale_json, "stale list", parse) or {}

    def write_stale(self, stale: dict[str, StaleEntry]) -> None:
        doc = {
            "generated": time.time(),
            "projects": {
                k: {
                    "name": e.name,
                    "expected_serial": e.expected_serial,
                    "served_serial": e.served_serial,
                    "urls": e.urls,
                    "first_seen": e.first_seen,
                }
                for k, e in sorted(stale.items())
            },
        }
        save_document(self.stale_json, json.dumps(doc, indent=1).encode())

    # -- maintenance ----------------------------------------------------------------------------------
    def forget(self, names: set[str]) -> None:
        """Drop projects from `todo`, `state.json` failing and `stale.json` (after `delete`), so no
        later run resurrects them."""
        todo = self.read_todo()
        if todo is not None and names & set(todo.projects):
            todo.projects = {k: v for k, v in todo.projects.items() if k not in names}
            self.write_todo(todo)
        state = self.read_run_state()
        if names & set(state.failing):
            state.failing = {k: v for k, v in state.failing.items() if k not in names}
            self.write_run_state(state)
        stale = self.read_stale()
        if names & set(stale):
            self.write_stale({k: v for k, v in stale.items() if k not in names})


__all__ = ["GENERATION", "Regression", "RunState", "StaleEntry", "StateFiles", "Todo", "load_document", "save_document"]
