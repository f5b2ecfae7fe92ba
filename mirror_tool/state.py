"""State files beside `web/`: `status`, `todo`, `state.json`, `stale.json` (formats: design.md).

All are replaced atomically. `todo` is written before any project work starts, so a killed run
resumes with the same work; `status` only ever names a serial whose changes are all on disk.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from mirror_tool.layout import Layout, atomic_write, storage_error


@dataclass
class Todo:
    target_serial: int
    projects: dict[str, int] = field(default_factory=dict)  # normalized name -> expected serial


@dataclass
class RunState:
    upstream_serial: int = 0
    last_success: float | None = None
    last_run_start: float | None = None
    last_run_end: float | None = None
    last_reconcile: float | None = None
    failing: dict[str, str] = field(default_factory=dict)


@dataclass
class StaleEntry:
    name: str
    expected_serial: int
    served_serial: int
    urls: list[str]
    first_seen: float


def read_status(layout: Layout) -> int | None:
    """The mirror serial, None before the first complete sync started."""
    try:
        text = layout.status.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def write_status(layout: Layout, serial: int) -> None:
    atomic_write(layout.status, f"{serial}\n".encode())


def read_todo(layout: Layout) -> Todo | None:
    try:
        data = json.loads(layout.todo.read_bytes())
        return Todo(int(data["target_serial"]), {str(k): int(v) for k, v in data.get("projects", {}).items()})
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def write_todo(layout: Layout, todo: Todo) -> None:
    doc = {"target_serial": todo.target_serial, "projects": dict(sorted(todo.projects.items()))}
    atomic_write(layout.todo, json.dumps(doc, separators=(",", ":")).encode())


def clear_todo(layout: Layout) -> None:
    try:
        layout.todo.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise storage_error(exc, str(layout.todo)) from exc


def read_run_state(layout: Layout) -> RunState:
    try:
        data: dict[str, Any] = json.loads(layout.state_json.read_bytes())
    except (FileNotFoundError, ValueError):
        return RunState()
    state = RunState()
    for key in ("last_success", "last_run_start", "last_run_end", "last_reconcile"):
        value = data.get(key)
        setattr(state, key, float(value) if isinstance(value, (int, float)) else None)
    try:
        state.upstream_serial = int(data.get("upstream_serial", 0))
    except (TypeError, ValueError):
        pass
    failing = data.get("failing", {})
    state.failing = {str(k): str(v) for k, v in failing.items()} if isinstance(failing, dict) else {}
    return state


def write_run_state(layout: Layout, state: RunState) -> None:
    doc = {
        "upstream_serial": state.upstream_serial,
        "last_success": state.last_success,
        "last_run_start": state.last_run_start,
        "last_run_end": state.last_run_end,
        "last_reconcile": state.last_reconcile,
        "failing": dict(sorted(state.failing.items())),
    }
    atomic_write(layout.state_json, json.dumps(doc, indent=1).encode())


def read_stale(layout: Layout) -> dict[str, StaleEntry]:
    try:
        data = json.loads(layout.stale_json.read_bytes())
        return {
            k: StaleEntry(
                name=str(v.get("name", k)),
                expected_serial=int(v.get("expected_serial", 0)),
                served_serial=int(v.get("served_serial", -1)),
                urls=[str(u) for u in v.get("urls", [])],
                first_seen=float(v.get("first_seen", 0.0)),
            )
            for k, v in data.get("projects", {}).items()
        }
    except (FileNotFoundError, ValueError, TypeError, AttributeError):
        return {}


def write_stale(layout: Layout, stale: dict[str, StaleEntry]) -> None:
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
    atomic_write(layout.stale_json, json.dumps(doc, indent=1).encode())
