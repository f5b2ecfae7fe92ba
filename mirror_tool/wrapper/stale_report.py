"""Reading `<directory>/stale.json`, the sync engine's list of stale projects.

The wrapper learns stale projects and the URLs fetched for them from this file only, never from
log text (the seed's wrapper parsed log lines and broke silently when they changed).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class StaleProject:
    """One entry of stale.json."""

    normalized: str
    name: str
    expected_serial: int | None = None
    served_serial: int | None = None
    urls: list[str] = field(default_factory=list)
    first_seen: float | None = None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_stale(text: str) -> dict[str, StaleProject]:
    """Parse stale.json text; raises ValueError when it is not the documented shape."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("top level is not an object")
    projects = data.get("projects", {})
    if not isinstance(projects, dict):
        raise ValueError("'projects' is not an object")
    result: dict[str, StaleProject] = {}
    for normalized, raw in projects.items():
        raw = raw if isinstance(raw, dict) else {}
        urls = raw.get("urls", [])
        first_seen = raw.get("first_seen")
        result[str(normalized)] = StaleProject(
            normalized=str(normalized),
            name=str(raw.get("name") or normalized),
            expected_serial=_int_or_none(raw.get("expected_serial")),
            served_serial=_int_or_none(raw.get("served_serial")),
            urls=[u for u in urls if isinstance(u, str)] if isinstance(urls, list) else [],
            first_seen=float(first_seen) if isinstance(first_seen, (int, float)) else None,
        )
    return result


def read_stale(path: Path) -> dict[str, StaleProject]:
    """Stale projects from `path`; missing file means none, a corrupt one is logged and empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("Cannot read %s (%s)", path, exc)
        return {}
    try:
        return parse_stale(text)
    except ValueError as exc:
        log.warning("Ignoring unreadable %s (%s)", path, exc)
        return {}
