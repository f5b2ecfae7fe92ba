"""Error classes of the mirror client; each carries the exit code the CLI returns for it.

Keeping the code on the exception means no caller has to map exception types to numbers, and a new
error cannot silently exit 1.
"""

from __future__ import annotations

from mirror_tool.exitcodes import ExitCode


class MirrorError(Exception):
    """Base class: `exit_code` is what `pypi-mirror` exits with when this ends a run."""

    exit_code: ExitCode = ExitCode.FAILED


class ConfigError(MirrorError):
    """A config key or a command-line argument is wrong; the message names it and the problem."""

    exit_code = ExitCode.CONFIG

    def __init__(self, section: str, key: str, problem: str) -> None:
        self.section = section
        self.key = key
        problem = " ".join(problem.split())  # always one line
        self.problem = problem
        if not section:  # the file as a whole (missing, unreadable, not INI)
            super().__init__(problem)
            return
        where = f"[{section}] {key}" if key else f"[{section}]"
        super().__init__(f"{where}: {problem}")


class LockBusy(MirrorError):
    """Another run holds the mirror lock."""

    exit_code = ExitCode.LOCKED

    def __init__(self, pid: int | None, path: str = "") -> None:
        self.pid = pid
        self.path = path
        holder = f"PID {pid}" if pid else "an unknown PID"
        super().__init__(f"another run holds the lock {path} ({holder})")


class UpstreamUnreachable(MirrorError):
    """The upstream did not answer at all (refused, DNS, timeout) on the change feed."""

    exit_code = ExitCode.UNREACHABLE


class UpstreamRegressed(MirrorError):
    """The upstream's serial is lower than the mirror's: following it would skip or undo changes.

    The run publishes nothing; `pypi-mirror mirror --reconcile` accepts the upstream's serial."""

    exit_code = ExitCode.REGRESSED

    def __init__(self, upstream_serial: int, mirror_serial: int, source: str) -> None:
        self.upstream_serial = upstream_serial
        self.mirror_serial = mirror_serial
        self.source = source
        super().__init__(
            f"Upstream serial went backwards: {source} says {upstream_serial}, the mirror is at {mirror_serial}; "
            "nothing synced (a lagging CDN recovers by itself; after an upstream restore or switch run "
            "`pypi-mirror mirror --reconcile`)"
        )


class StorageError(MirrorError):
    """Local storage failed (disk full, permission denied, read-only filesystem)."""

    exit_code = ExitCode.STORAGE


class ProjectError(MirrorError):
    """One project could not be synced; the run goes on with the others."""

    exit_code = ExitCode.FAILED


class UnsafeName(ProjectError):
    """A name, filename or URL from upstream would write outside the mirror; refused."""


class IntegrityError(ProjectError):
    """A download's size or sha256 did not match what upstream promised."""


class RetryableError(ProjectError):
    """A transient failure (5xx, cut connection) that a retry may cure."""


class FeedUnavailable(MirrorError):
    """The XML-RPC change feed answered a fault or 404: fall back to the index diff."""

    exit_code = ExitCode.UNREACHABLE
