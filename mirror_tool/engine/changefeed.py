"""What changed upstream since the mirror's cursor: XML-RPC changelog pages or a PEP 691 index diff.

A no-change run costs one small `changelog_since_serial` call. The full `/simple/` index is only
fetched when bootstrapping, reconciling, or when XML-RPC is unavailable (fault / 404 / forced).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from mirror_tool.errors import FeedUnavailable, UpstreamUnreachable
from mirror_tool.index.read import IndexEntry
from mirror_tool.names import is_valid_project_name, normalize
from mirror_tool.upstream.client import Upstream

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
    """Every change after `since`, paging until upstream returns an empty page."""
    changes = Changes(target_serial=since, source="xmlrpc")
    cursor = since
    for _ in range(MAX_CHANGELOG_PAGES):
        rows = upstream.changelog_since_serial(cursor)
        if not rows:
            break
        page_max = cursor
        for name, serial in rows:
            changes.add(name, serial)
            page_max = max(page_max, serial)
        if page_max <= cursor:
            break  # a page that does not advance would loop forever
        cursor = page_max
    changes.target_serial = cursor
    return changes


def full_listing(upstream: Upstream, source: str) -> Changes:
    """Every project upstream has, for the first (full) sync."""
    if source in ("auto", "xmlrpc"):
        try:
            serial = upstream.changelog_last_serial()
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
    changes = Changes(target_serial=serial, source="index", reconciled=True)
    for name, s in listing.items():
        changes.add(name, s)
    return changes


def full_recheck(upstream: Upstream, source: str, local: dict[str, IndexEntry], base_serial: int) -> Changes:
    """Every project upstream lists, whatever serial the mirror has for it, plus the mirror's
    projects upstream no longer lists (expected serial 0: fetching them removes them).

    `pypi-mirror mirror --force-check` (bandersnatch's flag): each project is fetched again and
    every file it lists checked by `compare-method`, so a tree damaged or edited behind the
    mirror's back is brought back to upstream without deleting state files by hand. The serial
    the mirror records never moves back: the run's target is at least `base_serial`.
    """
    changes = full_listing(upstream, source)
    changes.target_serial = max(changes.target_serial, base_serial)
    for norm in local:
        if norm not in changes.projects:
            changes.projects[norm] = 0
            changes.floors[norm] = 0
    return changes


def index_diff(upstream: Upstream, local: dict[str, IndexEntry], base_serial: int) -> Changes:
    """Projects whose upstream `_last-serial` is newer than the mirror's, plus removed ones.

    Removed projects get expected serial 0: fetching them yields the 404 that removes them.
    """
    serial, listing = upstream.simple_index()
    changes = Changes(target_serial=max(serial, base_serial), source="index", reconciled=True)
    seen: set[str] = set()
    for name, s in listing.items():
        if not is_valid_project_name(name):
            log.error("refused unsafe project name %r from the index", name)
            continue
        norm = normalize(name)
        seen.add(norm)
        mine = local.get(norm)
        if mine is None or s > mine.serial:
            changes.add(name, s)
    for norm in local:
        if norm not in seen:
            changes.projects[norm] = 0
            changes.floors[norm] = 0
    return changes


def collect_changes(
    upstream: Upstream,
    *,
    source: str,
    cursor: int,
    reconcile_due: bool,
    load_local: Callable[[], dict[str, IndexEntry]],
) -> Changes:
    """Changes after `cursor` from the configured feed, with automatic XML-RPC -> index fallback."""
    use_index = source == "index" or reconcile_due
    changes: Changes | None = None
    if source in ("auto", "xmlrpc"):
        try:
            changes = changelog_since(upstream, cursor)
        except FeedUnavailable as exc:
            if source == "xmlrpc":
                raise UpstreamUnreachable(f"XML-RPC unavailable and changelog-source = xmlrpc: {exc}") from exc
            log.warning("%s; falling back to the /simple/ index diff", exc)
            use_index = True
    if use_index:
        diff = index_diff(upstream, load_local(), cursor)
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
