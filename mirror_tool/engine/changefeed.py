"""What changed upstream since the mirror's cursor: XML-RPC changelog pages or a PEP 691 index diff.

A no-change run costs one small `changelog_since_serial` call: it asks from one below the cursor,
so an upstream that is not behind the mirror answers at least the change at the cursor, and only
an empty answer costs a `changelog_last_serial` call for the serial guard (reconcile.py). The full
`/simple/` index is only fetched when bootstrapping, reconciling, or when XML-RPC is unavailable
(fault / 404 / forced); its serial meets the same guard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from mirror_tool.errors import FeedUnavailable, UpstreamUnreachable
from mirror_tool.names import is_valid_project_name, normalize
from mirror_tool.upstream.client import Upstream

if TYPE_CHECKING:
    from mirror_tool.engine.reconcile import SerialGuard

log = logging.getLogger("mirror_tool.changefeed")

#: Guard against an upstream that never returns an empty page.
MAX_CHANGELOG_PAGES = 100_000


@dataclass
class Changes:
    """Projects to sync (normalized -> expected serial) and the serial they bring the mirror to.

    `floors` holds the lowest change serial seen per project, so the recorded mirror serial can
    stop just below a change that did not make it to disk.
    """

    target_serial: int
    projects: dict[str, int] = field(default_factory=dict)
    floors: dict[str, int] = field(default_factory=dict)
    source: str = "xmlrpc"
    reconciled: bool = False
    #: The upstream showed it has every change up to the cursor it was asked from.
    reaches_cursor: bool = True
    #: The serial the upstream reported as its own (the index's `_last-serial`); None: not asked.
    upstream_serial: int | None = None

    def add(self, name: str, serial: int) -> None:
        if not is_valid_project_name(name):
            log.error("refused unsafe project name %r from the change feed", name)
            return
        norm = normalize(name)
        if serial > self.projects.get(norm, -1):
            self.projects[norm] = serial
        if serial < self.floors.get(norm, 1 << 62):
            self.floors[norm] = serial


def changelog_since(upstream: Upstream, since: int) -> Changes:
    """Every change after `since`, paging until upstream returns an empty page.

    The first page is asked from `since - 1`: its row at `since` (already mirrored, skipped)
    shows the upstream still has that change; an empty first page leaves `reaches_cursor` False.
    """
    changes = Changes(target_serial=since, source="xmlrpc", reaches_cursor=since <= 0)
    cursor = since
    ask = since - 1 if since > 0 else since
    for _ in range(MAX_CHANGELOG_PAGES):
        rows = upstream.changelog_since_serial(ask)
        if not rows:
            break
        page_max = cursor
        for name, serial in rows:
            if serial >= since:
                changes.reaches_cursor = True
            if serial <= since:
                continue
            changes.add(name, serial)
            page_max = max(page_max, serial)
        if page_max <= cursor:
            break  # a page that does not advance would loop forever
        cursor = ask = page_max
    changes.target_serial = cursor
    return changes


def full_listing(upstream: Upstream, source: str, guard: "SerialGuard | None" = None) -> Changes:
    """Every project upstream has: the first (full) sync, and a full check (reconcile.py).

    `guard`: checks the upstream's serial before the listing is taken (over XML-RPC a lagging
    answer is asked again first, so the listing taken after it is at least as new)."""
    if source in ("auto", "xmlrpc"):
        try:
            serial = upstream.changelog_last_serial()
            if guard is not None:
                serial = guard.check(serial, "the XML-RPC change feed", upstream.changelog_last_serial)
            listing = upstream.list_packages_with_serial()
            changes = Changes(target_serial=serial, source="xmlrpc", reconciled=True)
            for name, s in listing.items():
                changes.add(name, s)
            return changes
        except FeedUnavailable as exc:
            if source == "xmlrpc":
                raise UpstreamUnreachable(f"XML-RPC unavailable and changelog-source = xmlrpc: {exc}") from exc
            log.warning("%s; using the /simple/ index instead", exc)
    serial, listing = upstream.simple_index()
    if guard is not None and serial > 0:  # 0: an index without a serial
        guard.check(serial, "the /simple/ index")
    changes = Changes(target_serial=serial, source="index", reconciled=True)
    for name, s in listing.items():
        changes.add(name, s)
    return changes


def index_diff(upstream: Upstream, local_rows: Callable[[], Iterable[tuple[str, int]]], base_serial: int,
               local_document: Callable[[], bytes | None] | None = None) -> Changes:
    """Projects whose upstream `_last-serial` is newer than the mirror's, plus removed ones.

    `local_rows`: (display name, serial) of each project the mirror lists; `local_document`: its
    root JSON page as published (None: not usable as is). Both are asked for after the
    upstream's index arrived. When both indexes are compact, their rows are compared as bytes
    (index/compare.py) and only the few that differ are parsed; otherwise names are compared as
    spelled first. Either way a project both list identically costs no normalization or
    validation (the mirror's names were checked when they came in). Removed projects get
    expected serial 0: fetching them yields the 404 that removes them.
    """
    serial, listing = upstream.simple_index()
    changes = Changes(target_serial=max(serial, base_serial), source="index", reconciled=True,
                      upstream_serial=serial if serial > 0 else None)  # 0: an index without a serial
    theirs_only, mine_only = _differing(listing, local_rows, local_document)
    unmatched = {normalize(name): mine for name, mine in mine_only}  # the mirror's rows upstream lacks as they are
    for name, theirs in theirs_only:  # new upstream, newer (or older), or spelled differently
        if not is_valid_project_name(name):
            log.error("refused unsafe project name %r from the index", name)
            continue
        mine_or_none = unmatched.pop(normalize(name), None)
        if mine_or_none is None or theirs > mine_or_none:
            changes.add(name, theirs)
    for norm in unmatched:
        changes.projects[norm] = 0
        changes.floors[norm] = 0
    return changes


def _differing(listing: Mapping[str, int], local_rows: Callable[[], Iterable[tuple[str, int]]],
               local_document: Callable[[], bytes | None] | None) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """((name, serial) rows only the upstream has, rows only the mirror has)."""
    from mirror_tool.index.compare import compact_rows, differing_rows, parse_row
    from mirror_tool.upstream.parse import IndexListing

    if isinstance(listing, IndexListing) and local_document is not None:
        document = local_document()
        mine = compact_rows(document) if document is not None else None
        del document
        mine = mine.like(listing.rows) if mine is not None else None
        if mine is not None:
            theirs_only, mine_only = differing_rows(listing.rows, mine)
            try:
                return [parse_row(r) for r in theirs_only], [parse_row(r) for r in mine_only]
            except ValueError:
                pass  # a row in another layout (escapes, another key order): compare parsed listings
    remaining = dict(listing)
    mine_only = []
    for name, mine_serial in local_rows():
        theirs = remaining.pop(name, None)
        if theirs != mine_serial:
            mine_only.append((name, mine_serial))
            if theirs is not None:
                remaining[name] = theirs
    return list(remaining.items()), mine_only


def collect_changes(
    upstream: Upstream,
    *,
    source: str,
    cursor: int,
    reconcile_due: bool,
    load_local: Callable[[], Iterable[tuple[str, int]]],
    load_document: Callable[[], bytes | None] | None = None,
    guard: "SerialGuard | None" = None,
) -> Changes:
    """Changes after `cursor` from the configured feed, with automatic XML-RPC -> index fallback.

    `guard`: checks every serial the upstream reports against the mirror's before anything is
    synced (UpstreamRegressed when it is below)."""
    use_index = source == "index" or reconcile_due
    changes: Changes | None = None
    if source in ("auto", "xmlrpc"):
        try:
            changes = changelog_since(upstream, cursor)
            if not changes.reaches_cursor and guard is not None:
                guard.check(upstream.changelog_last_serial(), "the XML-RPC change feed", upstream.changelog_last_serial)
        except FeedUnavailable as exc:
            if source == "xmlrpc":
                raise UpstreamUnreachable(f"XML-RPC unavailable and changelog-source = xmlrpc: {exc}") from exc
            log.warning("%s; falling back to the /simple/ index diff", exc)
            use_index = True
    if use_index:
        diff = index_diff(upstream, load_local, cursor, load_document)
        if diff.upstream_serial is not None and guard is not None:
            guard.check(diff.upstream_serial, "the /simple/ index")
        if changes is None:
            return diff
        for norm, serial in diff.projects.items():
            if serial > changes.projects.get(norm, -1) or norm not in changes.projects:
                changes.projects[norm] = max(serial, changes.projects.get(norm, 0))
            changes.floors[norm] = min(changes.floors.get(norm, serial), serial)
        changes.target_serial = max(changes.target_serial, diff.target_serial)
        changes.reconciled = True
    assert changes is not None
    return changes
