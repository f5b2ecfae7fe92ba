"""Exit codes shared by `pypi-mirror` and `pypi-mirror-run`.

Cron, systemd and monitoring act on these numbers, so they are defined once and documented in
docs/design.md and docs/operations.md; never return a bare integer elsewhere.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit status; see the table in docs/operations.md."""

    OK = 0
    FAILED = 1
    CONFIG = 2
    STALE = 3
    LOCKED = 4
    UNREACHABLE = 5
    TIMEOUT = 6
    STORAGE = 7
    #: The upstream's serial is below the mirror's (restored from backup, another upstream behind
    #: the URL, a lagging replica or CDN node): nothing was published from it.
    REGRESSED = 8
    INTERRUPTED = 130
    TERMINATED = 143


#: When several outcomes apply to one run, the most urgent wins (earlier in this tuple).
PRECEDENCE: tuple[ExitCode, ...] = (
    ExitCode.CONFIG,
    ExitCode.LOCKED,
    ExitCode.UNREACHABLE,
    # Like UNREACHABLE it is about the upstream and the run did no work because of it; it
    # outranks a local storage error that can only come after it (writing state files).
    ExitCode.REGRESSED,
    ExitCode.STORAGE,
    ExitCode.INTERRUPTED,
    ExitCode.TERMINATED,
    ExitCode.TIMEOUT,
    ExitCode.FAILED,
    ExitCode.STALE,
    ExitCode.OK,
)


def most_urgent(*codes: ExitCode) -> ExitCode:
    """Return the code an operator most needs to see among `codes` (OK when empty)."""
    present = set(codes)
    for code in PRECEDENCE:
        if code in present:
            return code
    return ExitCode.OK
