"""Cooperative stop signal for a sync: a deadline plus an event set by signals or callers.

The sync engine polls `stopped` between files (and between chunks of a large file), so a time limit
or Ctrl-C ends the run with the tree consistent and the todo saved for the next run.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from mirror_tool.exitcodes import ExitCode


class StopToken:
    """`StopToken(deadline)`: `deadline` is a `time.monotonic()` value (None: no limit).

    `set(code)` requests a stop (default INTERRUPTED); `stopped` is true once set or past the
    deadline; `exit_code` says why (TIMEOUT for the deadline).
    """

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self._event = threading.Event()
        self._code: ExitCode | None = None

    @classmethod
    def after(cls, seconds: float | None) -> "StopToken":
        """A token whose deadline is `seconds` from now (None: no deadline)."""
        return cls(None if seconds is None else time.monotonic() + seconds)

    def set(self, code: ExitCode = ExitCode.INTERRUPTED) -> None:
        """Request a clean stop; the first reason given wins."""
        if self._code is None:
            self._code = code
        self._event.set()

    @property
    def stopped(self) -> bool:
        if self._event.is_set():
            return True
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.set(ExitCode.TIMEOUT)
            return True
        return False

    @property
    def exit_code(self) -> ExitCode | None:
        """Why the run stopped (None while not stopped)."""
        return self._code if self.stopped else None

    def linked(self) -> "StopToken":
        """A token that stops whenever this one does (same deadline, same reason) and can also be
        stopped on its own without stopping this one: the engine's internal stop (stop-on-error,
        a dead worker) that every request of the run watches, so a SIGTERM reaches a request in
        flight at once, whatever phase the run is in."""
        return _LinkedStop(self)

    def remaining(self) -> float | None:
        """Seconds until the deadline (None: no deadline)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (shortened by the deadline); True if stopped meanwhile."""
        rem = self.remaining()
        if rem is not None:
            seconds = min(seconds, rem)
        self._event.wait(max(0.0, seconds))
        return self.stopped

    def poll_wait(self, seconds: float, step: float) -> bool:
        """Wait up to `seconds`, asking `stopped` every `step` s; True if stopped meanwhile.

        Why: a token whose stop arrives from outside its own event (a parent token, a flag shared
        with the parent process) cannot be woken by `set`, so it has to look.
        """
        end = time.monotonic() + seconds
        while not self.stopped:
            left = end - time.monotonic()
            if left <= 0:
                return False
            self._event.wait(min(left, step))
        return True

    def install_signal_handlers(self) -> None:
        """SIGINT -> INTERRUPTED (130), SIGTERM -> TERMINATED (143); main thread only."""

        def on_int(signum: int, frame: Any) -> None:
            self.set(ExitCode.INTERRUPTED)

        def on_term(signum: int, frame: Any) -> None:
            self.set(ExitCode.TERMINATED)

        signal.signal(signal.SIGINT, on_int)
        signal.signal(signal.SIGTERM, on_term)


class _LinkedStop(StopToken):
    """See `StopToken.linked`."""

    def __init__(self, parent: StopToken) -> None:
        super().__init__(parent.deadline)
        self._parent = parent

    @property
    def stopped(self) -> bool:
        if not self._event.is_set() and self._parent.stopped:
            self.set(self._parent.exit_code or ExitCode.INTERRUPTED)
        return super().stopped

    def wait(self, seconds: float) -> bool:
        """As `StopToken.wait`, also woken (within 0.1 s) when the parent stops."""
        return self.poll_wait(seconds, 0.1)
