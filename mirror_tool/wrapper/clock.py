"""Wall clock of the wrapper, shiftable for tests.

Cross-run retry intervals are hours long; tests cannot wait for them. Every wall-clock reading the
wrapper makes (state file, metrics timestamps) goes through `wall_clock()`, which adds the number
of seconds in the environment variable `PYPI_MIRROR_RUN_CLOCK_OFFSET` (default 0) to `time.time()`.
Durations and the time limit use `time.monotonic()` and are never shifted.
"""

from __future__ import annotations

import os
import time
from typing import Callable

CLOCK_OFFSET_ENV = "PYPI_MIRROR_RUN_CLOCK_OFFSET"

Clock = Callable[[], float]


def clock_offset() -> float:
    """Seconds added to the real wall clock (0 unless a test set the variable)."""
    raw = os.environ.get(CLOCK_OFFSET_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{CLOCK_OFFSET_ENV}={raw!r} is not a number") from None


def wall_clock() -> float:
    """Epoch seconds, shifted by `PYPI_MIRROR_RUN_CLOCK_OFFSET`."""
    return time.time() + clock_offset()
