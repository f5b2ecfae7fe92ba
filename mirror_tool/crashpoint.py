"""Named moments at which a test can have the run SIGKILL itself (fault injection for crash tests).

Why: the crash-safety promises (the publish order, the pending journal) are about what a kill at
one exact moment leaves behind. A kill sent from outside on a log line lands wherever the run has
got to by then; instead a test sets `PYPI_MIRROR_TEST_CRASH_AT=<point>` (or `<point>:<n>` for the
n-th time the point is reached) and the run kills itself right there, the whole process as cron's
`timeout -s KILL` or the OOM killer would. Unset (always, outside tests) a point costs one lookup.

Points: `file-committed` (a worker stored a release file; no page lists it yet),
`pages-publishing` (the checkpoint's files are durable, its pages not written yet),
`files-deleting` (the pages are durable, the files they dropped not deleted yet).
"""

from __future__ import annotations

import os
import signal

ENV = "PYPI_MIRROR_TEST_CRASH_AT"

#: The run's own process: a forked worker inherits it and kills the whole run, not just itself.
_RUN_PID = os.getpid()
_reached: dict[str, int] = {}


def reached(point: str) -> None:
    """SIGKILL the run here when the test asked for this point (see the module docstring)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    _reached[point] = _reached.get(point, 0) + 1
    if _reached[point] >= int(nth or 1):
        os.kill(_RUN_PID, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["ENV", "reached"]
