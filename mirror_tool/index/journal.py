"""The change journal's documents: what a hub publishes under `web/changes/` and a replica reads.

Why a journal: a replica that asks "what changed since serial r?" must not diff a 700,000-entry
index nor speak XML-RPC to its hub; the hub already knows what it published, in order. So it
writes it down as static files nginx serves:

- `changes/head.json`: `{"version": 1, "id": I, "serial": S, "published": t, "checked": t,
  "since": F}`. `serial` is the hub's published serial (every change <= S is on the hub's disk);
  `published` when that serial was first published, `checked` when the hub last confirmed it
  (epoch seconds); `since`: every entry with a serial > F is still in the journal (older ones
  pruned); `id` names this journal: a journal that starts again (damaged, serial reset) gets a
  new one, and a replica that followed another id reconciles once.
- `changes/segments.json`: `{"version": 1, "id": I, "since": F, "segments": [{"name", "seq",
  "first", "last", "entries", "opened", "closed"}]}`, oldest first; `closed` is null for the
  open segment.
- segments `changes/<seq>.txt` (closed: never change again) and `changes/<seq>.open.txt` (the
  open one, rewritten with more lines): one `<serial> <project>` line per published or withdrawn
  project, serials never decreasing. `<project>` is the display name.

An entry's serial is the hub's head serial before the commit that published it, plus one: a
replica at serial r that applies every entry in (r, S] holds every change <= S (docs/design.md,
"Change journal", says why). The format here is pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from mirror_tool.names import is_valid_project_name

VERSION = 1
DIRECTORY = "changes/"
HEAD = DIRECTORY + "head.json"
SEGMENTS = DIRECTORY + "segments.json"
JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"


def segment_key(seq: int, *, open_: bool) -> str:
    """Key of segment number `seq`: `.open.txt` while it may grow, `.txt` once closed."""
    return f"{DIRECTORY}{seq:010d}{'.open' if open_ else ''}.txt"


@dataclass
class Head:
    id: str
    serial: int
    published: float
    checked: float
    since: int

    def render(self) -> bytes:
        doc = {"version": VERSION, "id": self.id, "serial": self.serial, "published": self.published,
               "checked": self.checked, "since": self.since}
        return json.dumps(doc, separators=(",", ":")).encode()


@dataclass
class Segment:
    seq: int
    first: int
    last: int
    entries: int
    opened: float
    closed: float | None = None

    @property
    def key(self) -> str:
        return segment_key(self.seq, open_=self.closed is None)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.key[len(DIRECTORY):], "seq": self.seq, "first": self.first, "last": self.last,
                "entries": self.entries, "opened": self.opened, "closed": self.closed}


@dataclass
class SegmentList:
    id: str
    since: int
    segments: list[Segment] = field(default_factory=list)

    def render(self) -> bytes:
        doc = {"version": VERSION, "id": self.id, "since": self.since,
               "segments": [s.as_json() for s in self.segments]}
        return json.dumps(doc, separators=(",", ":")).encode()

    def after(self, serial: int) -> list[Segment]:
        """Segments that may hold entries with a serial above `serial`, oldest first."""
        return [s for s in self.segments if s.last > serial]


def _object(raw: bytes) -> dict[str, Any]:
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise ValueError("not a version 1 journal document")
    return doc


def parse_head(raw: bytes) -> Head:
    """ValueError when `raw` is not a head document."""
    try:
        doc = _object(raw)
        return Head(str(doc["id"]), int(doc["serial"]), float(doc["published"]), float(doc["checked"]),
                    int(doc["since"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a journal head: {exc}") from None


def parse_segments(raw: bytes) -> SegmentList:
    """ValueError when `raw` is not a segment list."""
    try:
        doc = _object(raw)
        out = SegmentList(str(doc["id"]), int(doc["since"]))
        for item in doc["segments"]:
            closed = item.get("closed")
            segment = Segment(int(item["seq"]), int(item["first"]), int(item["last"]), int(item["entries"]),
                              float(item["opened"]), float(closed) if closed is not None else None)
            if item.get("name") != segment.key[len(DIRECTORY):]:
                raise ValueError(f"segment {segment.seq}: name {item.get('name')!r} does not match its state")
            out.segments.append(segment)
        return out
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a journal segment list: {exc}") from None


def new_id() -> str:
    """A fresh journal id (random: two journals started in the same second still differ)."""
    import secrets

    return secrets.token_hex(8)


def render_lines(serial: int, names: Iterable[str]) -> str:
    return "".join(f"{serial} {name}\n" for name in names)


def parse_lines(raw: bytes) -> list[tuple[int, str]]:
    """`(serial, display name)` rows; ValueError on a line that is not one (a torn or foreign file).

    Names are checked here: a journal is input from another host, and a name that is not a valid
    project name must never reach a path."""
    rows = []
    for line in raw.decode("utf-8").splitlines():
        serial, _, name = line.partition(" ")
        if not name or not is_valid_project_name(name):
            raise ValueError(f"not a journal line: {line[:100]!r}")
        rows.append((int(serial), name))
    return rows


__all__ = ["DIRECTORY", "HEAD", "SEGMENTS", "Head", "Segment", "SegmentList", "parse_head", "parse_lines",
           "new_id", "parse_segments", "render_lines", "segment_key"]
