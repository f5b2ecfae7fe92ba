"""The crash-recovery journal beside `web/`: objects that may be in the tree without a page
listing them.

Why: the publish order (files durable, then pages, then flush, then deletions) keeps every link
valid, but a kill between two steps leaves objects no page lists: files a worker stored for a
page that was never published, and files a published page dropped that were not deleted yet.
Nothing else remembers them, so before this journal only a manual `verify --delete` found them.
Two records, both local state (never objects of the tree, so any `Storage` backend works):

- `pending/<normalized>`: written by the worker before it stores the first object of a project's
  sync: every key that sync may store (the project's files and `.metadata` siblings), merged with
  what an earlier, killed attempt noted. The publisher reads it when it publishes (or withdraws)
  the project: noted keys the new page does not list, and the old page did not list either, are
  deleted with the files the page dropped. The record goes once those deletions are done.
- `pending-deletions.json`: `{key: normalized}` of the deletions the publisher has decided,
  written (and fsynced) before the pages that drop those keys are written, removed once they are
  deleted.

Recovery, at the start of the next run that holds the lock: a noted key is deleted when the
current page of its project does not list it (the page that dropped it did get published, or the
page that was to list it never was); records of projects still in `todo` wait for their re-sync.

Durability: the deletions journal is fsynced before the pages that need it; a worker's record is
written without fsync (a kill never loses it; after a power loss a download of the last seconds
may be left as an orphan for `verify --delete`, never a page pointing at a missing file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from mirror_tool.state import load_document, remove_document, save_document
from mirror_tool.storage.atomic import os_error

FILES_DIR = "pending"
DELETIONS = "pending-deletions.json"


def _key_list(data: bytes) -> set[str]:
    doc = json.loads(data)
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise ValueError("no key list")
    return {str(k) for k in keys}


def _deletions(data: bytes) -> dict[str, str]:
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return {str(k): str(v) for k, v in doc.items()}


class PendingJournal:
    """The journal of the mirror at `directory` (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.root = Path(directory)
        self.files_dir = self.root / FILES_DIR
        self.deletions_path = self.root / DELETIONS

    # -- pending files: written by the worker that syncs the project ------------------------------
    def note_files(self, normalized: str, file_keys: Iterable[str]) -> None:
        """Record the keys a sync of `normalized` may store; call before it stores any."""
        keys = set(file_keys) | self.files(normalized)
        save_document(self.files_dir / normalized, json.dumps({"keys": sorted(keys)}, separators=(",", ":")).encode())

    def files(self, normalized: str) -> set[str]:
        """The keys noted for `normalized` (empty when none)."""
        return load_document(self.files_dir / normalized, "pending-files record", _key_list) or set()

    def projects(self) -> list[str]:
        """Projects with a record (sorted)."""
        try:
            names = os.listdir(self.files_dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise os_error(exc, str(self.files_dir), "read", whole_run=True) from exc
        return sorted(n for n in names if not n.startswith("."))

    def clear_temporaries(self) -> None:
        """Remove temporaries of records a killed worker was writing (only while no worker runs)."""
        try:
            leftovers = [n for n in os.listdir(self.files_dir) if n.startswith(".")]
        except OSError:
            return
        for name in leftovers:
            try:
                (self.files_dir / name).unlink()
            except OSError:
                pass

    def forget_files(self, names: Iterable[str]) -> None:
        """Drop the records of `names` (their noted keys are listed or deleted by now)."""
        for norm in names:
            remove_document(self.files_dir / norm)

    # -- pending deletions: written by the publisher ------------------------------------------------
    def write_deletions(self, doomed: dict[str, str]) -> None:
        """`{key: normalized}` to delete; durable when this returns."""
        save_document(self.deletions_path, json.dumps(doomed, separators=(",", ":"), sort_keys=True).encode(), fsync=True)

    def read_deletions(self) -> dict[str, str]:
        return load_document(self.deletions_path, "pending deletions", _deletions) or {}

    def clear_deletions(self) -> None:
        remove_document(self.deletions_path)


__all__ = ["DELETIONS", "FILES_DIR", "PendingJournal"]
