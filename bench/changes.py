"""The upstream changes an incremental run catches up with: batch ``b`` uploads a new release to
each of the same ``PER_BATCH`` explicit projects.

Why deterministic batches: a cached large mirror is advanced by every bench run's incremental
runs, while each bench run starts a fresh fake upstream. Replaying the batches a cached tree has
already seen (same calls, same order) gives the new upstream the very serials the tree recorded,
so the cache stays a mirror that is exactly caught up.
"""

from __future__ import annotations

from tests.fakepypi.corpus import SPECIAL_NAMES
from tests.fakepypi.names import normalize

from .upstream import Upstream

PER_BATCH = 50
FILE_SIZE = 1024


def version(batch: int) -> str:
    """A version no corpus project has (the special cases go up to 9.x)."""
    return f"1000.0.{batch}"


def targets(up: Upstream, count: int = PER_BATCH) -> list[str]:
    """Display names of the explicit, non-special projects a batch changes (sorted, first ``count``)."""
    special = {normalize(n) for n in SPECIAL_NAMES}
    projects = up.projects()
    names = [info["name"] for norm, info in sorted(projects.items()) if norm not in special and info["releases"]]
    if len(names) < count:
        raise ValueError(f"upstream has {len(names)} generic explicit projects, a batch needs {count}")
    return names[:count]


def apply_batch(up: Upstream, batch: int, names: list[str]) -> int:
    """Upload release ``version(batch)`` (a wheel and an sdist) to every project in ``names``;
    returns the upstream's last serial afterwards."""
    serial = up.last_serial
    for name in names:
        serial = up.upload(name, version(batch), file_size=FILE_SIZE)
    return serial
