"""`<directory>/hub.json`: what a replica last saw of its hub (format: docs/design.md).

Why a file of its own: `status` and the wrapper's metrics report a replica's lag without asking
the hub, and the next run must know which hub and which journal (`id`) its serial was reached
on: a serial reached on another journal does not say which entries are still to apply, so a
switch costs one reconciliation. Read and written through state.py's atomic helpers; a damaged
file is moved aside like every state file (the next run then reconciles once).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from mirror_tool.state import load_document, save_document

FILE_NAME = "hub.json"


@dataclass
class HubState:
    #: URL of the hub the last run followed (None: none answered, or the run used the fallback).
    hub: str | None = None
    #: Id of the change journal the mirror serial was reached on.
    journal_id: str | None = None
    #: The hub's head as last read: serial, when it was published, when the hub last confirmed it.
    hub_serial: int | None = None
    hub_published: float | None = None
    hub_checked: float | None = None
    #: When that head was read, and the last time this mirror held the hub's serial.
    read_at: float | None = None
    in_sync_at: float | None = None
    #: The last run synced from `fallback-upstream` because no hub answered.
    fallback: bool = False


def hub_state_path(directory: Path) -> Path:
    return Path(directory) / FILE_NAME


def read_hub_state(directory: Path) -> HubState:
    def parse(data: bytes) -> HubState:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        known = HubState.__dataclass_fields__
        state = HubState(**{k: v for k, v in doc.items() if k in known})
        for name in ("hub_published", "hub_checked", "read_at", "in_sync_at"):
            value = getattr(state, name)
            setattr(state, name, float(value) if value is not None else None)
        state.hub_serial = int(state.hub_serial) if state.hub_serial is not None else None
        state.fallback = bool(state.fallback)
        return state

    return load_document(hub_state_path(directory), "hub state", parse) or HubState()


def write_hub_state(directory: Path, state: HubState) -> None:
    save_document(hub_state_path(directory), json.dumps(asdict(state), indent=1).encode())


def lag(state: HubState, mirror_serial: int | None, now: float,
        hub_serial: int | None = None) -> tuple[int | None, float | None]:
    """(serials, seconds) this mirror is behind its hub; `hub_serial` overrides the recorded one
    (a live read). Seconds: 0 when it holds the hub's serial, else the time since it last did
    (an upper bound: the hub may have moved on later than that); None when unknown."""
    serial = hub_serial if hub_serial is not None else state.hub_serial
    if serial is None:
        return None, None
    behind = max(0, serial - (mirror_serial or 0))
    if behind == 0:
        return 0, 0.0
    return behind, (max(0.0, now - state.in_sync_at) if state.in_sync_at is not None else None)


__all__ = ["HubState", "hub_state_path", "lag", "read_hub_state", "write_hub_state"]
