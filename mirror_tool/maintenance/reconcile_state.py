"""`pypi-mirror reconcile-state`: rebuild the local state files from the published tree.

Why: with an object store the tree lives in a bucket and the state files (`status`, `todo`,
`state.json`, `stale.json`) on the mirror host's disk. A host that is rebuilt, or whose disk is
lost, still has the whole mirror in the bucket; without `status` its next run would be a full
sync that fetches every project page upstream (and stats every file) again.

What the tree tells: every checkpoint writes the root JSON index with the mirror serial of that
moment (`meta._last-serial`, the serial `status` then records), so `status` is that serial. An
HTML-only tree (`simple-format = HTML`) has no root serial; then the highest serial of a project
page is taken. Either way `state.json` is told that no reconciliation has happened
(`last_reconcile` = 0), so the next run compares every project's serial with upstream's index
and syncs whatever the tree lacks, and continues with the change feed from `status`. An
existing `todo` is kept (it is the work of an interrupted run); `stale.json` and the wrapper's
state rebuild themselves.

Exit codes: 0 done (also for an empty tree: the next run is then a full sync), 7 storage error,
9 credentials refused. The caller holds the mirror lock.
"""

from __future__ import annotations

import logging

from mirror_tool.config import Config
from mirror_tool.exitcodes import ExitCode
from mirror_tool.index.read import page_serial, read_root_index
from mirror_tool.state import StateFiles
from mirror_tool.storage import open_storage
from mirror_tool.storage.base import Storage

log = logging.getLogger("mirror_tool.reconcile")


def tree_serial(storage: Storage) -> tuple[int | None, int]:
    """(the mirror serial the published tree records, or None for an empty tree; projects)."""
    serial, index = read_root_index(storage)
    if serial is None and index:
        serial = max((page_serial(storage, name) or 0 for name in index), default=0)
    return serial, len(index)


def reconcile_state(config: Config, storage: Storage | None = None) -> ExitCode:
    """Write `status` and `state.json` from the tree; print one line saying what was done."""
    storage = storage if storage is not None else open_storage(config.mirror)
    files = StateFiles(config.directory)
    files.prepare()
    serial, projects = tree_serial(storage)
    if serial is None:
        print("reconcile-state: the tree holds no root index: nothing to rebuild, the next run is a full sync")
        return ExitCode.OK
    files.write_status(serial)
    state = files.read_run_state()
    state.last_reconcile = 0.0  # the next run compares every project with upstream's index
    state.upstream_serial = max(state.upstream_serial, serial)
    files.write_run_state(state)
    log.info("State rebuilt from the tree: mirror serial %d, %d projects", serial, projects)
    print(f"reconcile-state: mirror serial {serial} ({projects} projects) written to {files.status}; "
          "the next run compares every project with upstream and continues from there")
    return ExitCode.OK


__all__ = ["reconcile_state", "tree_serial"]
