"""When the upstream's serial is below the mirror's: the guard that refuses to follow it, and the
full reconciliation that accepts it.

Why a guard: a mirror follows changes after its serial. An upstream restored from a backup, or
another upstream put behind the same URL, answers "nothing after your serial" and every run would
report success while the mirror keeps pages the upstream no longer has and misses the changes the
new upstream made below that serial. So every run compares the serial the upstream reports with
the mirror's cursor before it syncs anything; `SerialGuard` asks again a few times first (a
lagging CDN node or database replica answering once is not a regression), then raises
`UpstreamRegressed` (exit 8). No state makes it sticky: the next run asks afresh, so a lag that
ends ends the exit 8 by itself. Any source of "the upstream's current serial" can use the guard:
the XML-RPC feed and the `/simple/` index here, a hub's change journal for a replica.

Why a full reconciliation (`mirror --reconcile`): once the operator decides the lower serial is the
truth, the mirror compares its whole root index with the upstream's full listing, re-syncs every
project whose serial differs (lower or higher) or that it lacks, withdraws the projects the
upstream no longer has, and records the upstream's serial as its own when that work is done (the
`todo` carries `reconcile`, so an interrupted reconciliation goes on in the next runs).
`FullCheck(every_project=True)` re-checks every project instead (bandersnatch's
`mirror --force-check` builds on it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from mirror_tool.engine.changefeed import Changes, full_listing
from mirror_tool.errors import UpstreamRegressed
from mirror_tool.index.read import IndexEntry
from mirror_tool.stop import StopToken
from mirror_tool.upstream.client import Upstream

log = logging.getLogger("mirror_tool.mirror")


@dataclass
class SerialGuard:
    """Refuses an upstream whose serial is below `mirror_serial` (the run's change cursor)."""

    mirror_serial: int
    stop: StopToken
    #: How often a lower answer is asked again before it counts, and the first wait (doubling).
    rechecks: int = 0
    backoff: float = 0.0

    def check(self, upstream_serial: int, source: str, ask_again: Callable[[], int] | None = None) -> int:
        """`upstream_serial` (or a later answer of `ask_again`) once it is not below the mirror's;
        UpstreamRegressed when it stays below."""
        attempt = 0
        while upstream_serial < self.mirror_serial:
            if ask_again is None or attempt >= self.rechecks:
                raise UpstreamRegressed(upstream_serial, self.mirror_serial, source)
            wait = self.backoff * (2**attempt)
            log.info("%s says serial %d, below the mirror's %d; asking again in %gs", source, upstream_serial,
                     self.mirror_serial, wait)
            if self.stop.wait(wait):
                raise UpstreamRegressed(upstream_serial, self.mirror_serial, source)
            upstream_serial = ask_again()
            attempt += 1
        return upstream_serial


@dataclass(frozen=True)
class FullCheck:
    """A run that diffs the whole tree against the upstream's full listing instead of following
    the change feed, and takes the upstream's serial as the mirror's new base."""

    #: True: queue every project upstream lists; False: only those whose serial differs or that
    #: one side lacks (`mirror --reconcile`).
    every_project: bool = False
    #: What the log calls it.
    label: str = "reconcile"


def full_diff(
    upstream: Upstream,
    source: str,
    local: Mapping[str, IndexEntry],
    *,
    every_project: bool,
    also: Iterable[str] = (),
) -> Changes:
    """Projects to sync so that the tree matches the upstream's full listing, at its serial.

    `local`: the mirror's root index. `also`: names to queue whatever their serial (work left in
    `todo`), expecting the serial the listing gives them. Projects the listing lacks are queued
    with expected serial 0: the fetch's 404 withdraws them.
    """
    listing = full_listing(upstream, source)
    changes = Changes(target_serial=listing.target_serial, source=listing.source, reconciled=True)
    for norm, serial in listing.projects.items():
        mine = local.get(norm)
        if every_project or mine is None or mine.serial != serial:
            changes.projects[norm] = changes.floors[norm] = serial
    for norm in local:
        if norm not in listing.projects:
            changes.projects[norm] = changes.floors[norm] = 0
    for norm in also:
        if norm not in changes.projects:
            changes.projects[norm] = changes.floors[norm] = listing.projects.get(norm, 0)
    log.info("Full listing at upstream serial %d: %d projects to sync or withdraw (upstream lists %d, the mirror %d)",
             listing.target_serial, len(changes.projects), len(listing.projects), len(local))
    return changes


__all__ = ["FullCheck", "SerialGuard", "full_diff"]
