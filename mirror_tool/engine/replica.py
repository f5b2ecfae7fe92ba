"""A replica's run: what changed on its hub, from the hub's change journal.

- No-op: one GET of `changes/head.json` (its serial is not above ours).
- Incremental: the segment list, then the segments holding entries above our serial; the
  projects named by entries in (our serial, head serial] are synced from the hub's pages. Cost:
  O(changes), no XML-RPC, no index.
- Reconciliation (an index diff against the hub's root `index.v1_json` and its per-project
  `_last-serial`): the first run, a journal we did not follow (another hub, or the hub's journal
  started again), a serial below the journal's `since` (we were down longer than its retention),
  or `reconcile-interval` elapsed.

The target serial is never above the head read at the start of the run, and the head only ever
names a serial whose pages are durable on the hub: a replica never publishes a serial its hub has
not published. When no hub answers and `fallback-upstream` is set, the run syncs from that PyPI
upstream instead (logged; the next hub run then reconciles).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from mirror_tool.engine.changefeed import Changes, index_diff
from mirror_tool.engine.checkpoint import Run
from mirror_tool.hubstate import HubState, read_hub_state, write_hub_state
from mirror_tool.index import journal as fmt
from mirror_tool.names import is_valid_project_name, normalize
from mirror_tool.state import Todo
from mirror_tool.upstream.client import Upstream, http_settings
from mirror_tool.upstream.hub import HubUnusable, HubUpstream

if False:  # typing only
    from mirror_tool.engine.run import SyncResult

log = logging.getLogger("mirror_tool.replica")

Mirror = Callable[[Run, Callable[[Run, "Todo | None"], Changes]], "SyncResult"]


class _Reconcile(Exception):
    """The journal cannot bring us to the head: reconcile from the index instead (says why)."""


@dataclass
class _Seen:
    head: fmt.Head | None = None
    read_at: float = 0.0
    fallback: bool = False
    followed: bool = False  # the changes up to the head were read: our serial belongs to its journal


def follow_hub(run: Run, mirror: Mirror) -> "SyncResult":
    """`mirror(run, find_changes)` with the hub's journal as the change feed; then hub.json."""
    from mirror_tool.engine.run import upstream_changes

    before = read_hub_state(run.settings.directory)
    seen = _Seen()

    def find_changes(run: Run, todo: Todo | None) -> Changes:
        hub = run.upstream
        assert isinstance(hub, HubUpstream)
        seen.read_at = time.time()
        try:
            seen.head = hub.find_head()
        except HubUnusable as exc:
            if not run.settings.fallback_upstream:
                raise
            log.warning("%s; syncing from the fallback upstream %s", exc, run.settings.fallback_upstream)
            hub.close()
            run.upstream = Upstream(http_settings(run.settings, upstream=run.settings.fallback_upstream),
                                    run.internal_stop)
            seen.fallback = True
            return upstream_changes(run, todo)
        changes = hub_changes(run, hub, seen.head, todo, before)
        seen.followed = True
        return changes

    result = mirror(run, find_changes)
    _record(run, before, seen, result.mirror_serial)
    return result


def hub_changes(run: Run, hub: HubUpstream, head: fmt.Head, todo: Todo | None, before: HubState) -> Changes:
    """Changes from our cursor up to `head` (see the module docstring for when it reconciles)."""
    from mirror_tool.engine.run import reconcile_due

    cursor = max(run.old_status or 0, todo.target_serial if todo else 0)
    if run.old_status is None and todo is None:
        log.info("No mirror serial yet: full sync from hub %s (serial %d)", hub.master, head.serial)
        return _full_listing(hub, head)
    try:
        if before.hub != hub.master or before.journal_id != head.id:
            raise _Reconcile(f"following {hub.master} journal {head.id} for the first time")
        if cursor < head.since:
            raise _Reconcile(f"our serial {cursor} is older than the journal keeps (since {head.since})")
        if reconcile_due(run):
            raise _Reconcile("reconcile-interval elapsed")
        if head.serial <= cursor:
            return Changes(target_serial=cursor, source="journal")
        return _from_journal(hub, head, cursor)
    except _Reconcile as why:
        log.info("Reconciling with hub %s from its index: %s", hub.master, why)
        changes = index_diff(hub, run.publisher.rows, cursor, run.publisher.root_document)
        changes.target_serial = max(cursor, min(changes.target_serial, head.serial))
        return changes


def _full_listing(hub: HubUpstream, head: fmt.Head) -> Changes:
    serial, listing = hub.simple_index()
    changes = Changes(target_serial=min(serial, head.serial), source="index", reconciled=True)
    for name, project_serial in listing.items():
        changes.add(name, project_serial)
    return changes


def _from_journal(hub: HubUpstream, head: fmt.Head, cursor: int) -> Changes:
    """Entries in (cursor, head.serial]; a segment deleted meanwhile (closed or pruned after we
    read the list) makes us read the list once more."""
    for attempt in (1, 2):
        listing = hub.segment_list()
        if listing.id != head.id:
            raise _Reconcile(f"the journal started again ({listing.id}) while we read it")
        if cursor < listing.since:
            raise _Reconcile(f"our serial {cursor} is older than the journal keeps (since {listing.since})")
        rows: list[tuple[int, str]] = []
        for segment in listing.after(cursor):
            got = hub.segment(segment)
            if got is None:
                break
            rows += got
        else:
            return _changes_of(rows, cursor, head, hub)
        log.info("Journal segment gone while reading it (attempt %d); reading the list again", attempt)
    raise _Reconcile("journal segments kept disappearing while we read them")


def _changes_of(rows: list[tuple[int, str]], cursor: int, head: fmt.Head, hub: HubUpstream) -> Changes:
    changes = Changes(target_serial=head.serial, source="journal")
    for serial, name in rows:
        if not cursor < serial <= head.serial or not is_valid_project_name(name):
            continue
        norm = normalize(name)
        hub.display_names[norm] = name
        # Expected serial 0: the hub's page is what the hub published; the entry's serial is where
        # the change may start, so a project left in todo holds `status` just below it.
        changes.projects.setdefault(norm, 0)
        changes.floors[norm] = min(changes.floors.get(norm, serial), serial)
    log.info("Hub %s: %d projects changed between serials %d and %d", hub.master, len(changes.projects),
             cursor, head.serial)
    return changes


def _record(run: Run, before: HubState, seen: _Seen, mirror_serial: int) -> None:
    """hub.json after the run: the hub, the journal our serial now belongs to, the head, lag."""
    state = before
    if seen.fallback:
        state.hub, state.journal_id, state.fallback = None, None, True
    elif seen.head is not None:
        hub = run.upstream
        assert isinstance(hub, HubUpstream)
        head = seen.head
        if seen.followed:
            state = HubState(hub=hub.master, journal_id=head.id, in_sync_at=before.in_sync_at)
        elif before.hub != hub.master:
            state = HubState(in_sync_at=before.in_sync_at)  # a new hub we could not read: reconcile next time
        state.hub_serial, state.hub_published, state.hub_checked = head.serial, head.published, head.checked
        state.read_at, state.fallback = seen.read_at, False
        if seen.followed and mirror_serial >= head.serial:
            state.in_sync_at = seen.read_at
    else:
        return  # no hub answered: keep what we knew (status reports the age of that knowledge)
    write_hub_state(run.settings.directory, state)


__all__ = ["follow_hub", "hub_changes"]
