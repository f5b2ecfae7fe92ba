"""When the upstream's serial is below the mirror's: the guard that refuses to follow it, and the
full check that accepts it (`mirror --reconcile`) or re-checks everything (`mirror --force-check`).

Why a guard: a mirror follows changes after its serial. An upstream restored from a backup, or
another upstream put behind the same URL, answers "nothing after your serial" and every run would
report success while the mirror keeps pages the upstream no longer has and misses the changes the
new upstream made below that serial. So every run compares the serial the upstream reports with
the mirror's cursor before it syncs anything; `SerialGuard` asks again a few times first (a
lagging CDN node or database replica answering once is not a regression), then raises
`UpstreamRegressed` (exit 8). No state makes it sticky: the next run asks afresh, so a lag that
ends ends the exit 8 by itself. Any source of "the upstream's current serial" can use the guard:
the XML-RPC feed and the `/simple/` index here, a hub's change journal for a replica.

Why a full check: `mirror --reconcile`, once the operator decides the lower serial is the truth,
and `mirror --force-check` (bandersnatch's flag: check everything again, e.g. after the tree was
damaged or edited behind the mirror's back) are one mechanism, a `FullCheck`: the mirror
compares its whole root index with the upstream's full listing, queues projects, withdraws the
projects the upstream no longer has, and records the listing's serial when that work is done.
The two flags set its two fields, and that is all they differ in (both together set both):
- `rebase` (`--reconcile`): the listing's serial becomes the mirror's even when it is lower, and
  the `todo` carries `reconcile`, so an interrupted reconciliation goes on in the next runs;
  without it a lower serial meets the `SerialGuard` like in any run (exit 8) and the mirror's
  serial never moves back.
- `every_project` (`--force-check`): every project the upstream lists is queued, so each is
  fetched again and every file it lists is checked by `compare-method` (missing or different
  files downloaded again); without it only the projects whose serial differs (lower or higher)
  or that one side lacks.
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
    the change feed (the module docstring says what each field is for)."""

    #: Queue every project upstream lists (`--force-check`); False: only those whose serial
    #: differs or that one side lacks.
    every_project: bool = False
    #: Take the listing's serial as the mirror's new base even when it is lower (`--reconcile`);
    #: False: a lower serial is refused (exit 8).
    rebase: bool = True

    @classmethod
    def from_flags(cls, *, reconcile: bool, force_check: bool) -> "FullCheck | None":
        """The full check `pypi-mirror mirror --reconcile / --force-check` asks for (None: neither)."""
        if not (reconcile or force_check):
            return None
        return cls(every_project=force_check, rebase=reconcile)

    @property
    def label(self) -> str:
        """What the log calls it."""
        parts = [name for name, on in (("reconcile", self.rebase), ("force check", self.every_project)) if on]
        return " with ".join(parts) or "check"


def full_diff(
    upstream: Upstream,
    source: str,
    local: Mapping[str, IndexEntry],
    *,
    every_project: bool,
    also: Iterable[str] = (),
    guard: SerialGuard | None = None,
) -> Changes:
    """Projects to sync so that the tree matches the upstream's full listing, at its serial.

    `local`: the mirror's root index. `also`: names to queue whatever their serial (work left in
    `todo`), expecting the serial the listing gives them. Projects the listing lacks are queued
    with expected serial 0: the fetch's 404 withdraws them. `guard`: checks the listing's serial
    (UpstreamRegressed when it is below the mirror's); None accepts any.
    """
    listing = full_listing(upstream, source, guard)
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
