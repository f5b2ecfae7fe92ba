"""The one logging setup of both commands, and the terminal-only progress line.

`pypi-mirror` logs to stderr (and to `--log-file` / `[mirror] log-file` when given);
`pypi-mirror-run` logs to its `[wrapper] log-file`, or to stdout without one; started by hand on a
terminal with a log file, it also shows its warnings, errors and summary there (`terminal`), so a
person sees what happened (even "lock busy") while cron's output stays in the log. Files are opened
with `WatchedFileHandler`: a run can straddle a logrotate, and the handler reopens the file when
it was moved away instead of writing the rest of the run into the rotated copy. Every record is
flushed as it is written, so the sync engine's lines stream into the same file in order.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s: %(message)s"


#: `log.info(..., extra=TERMINAL)` marks a line a person at a terminal should see (a summary).
TERMINAL = {"terminal": True}


class _ForTerminal(logging.Filter):
    """Warnings and errors, and the lines logged with `extra=TERMINAL`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or bool(getattr(record, "terminal", False))


def setup_logging(*, debug: bool = False, log_file: Path | None = None, console: TextIO | None = None,
                  terminal: TextIO | None = None) -> None:
    """Route the root logger to `console` (a stream, or None) and `log_file` (appended), and
    the lines a person needs (warnings, errors, `TERMINAL` lines) to `terminal` (or None).

    DEBUG with `debug`, INFO otherwise. Replaces any handlers set before (tests call this more
    than once in one process). OSError when the log file cannot be opened.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = []
    if log_file is not None:
        from logging.handlers import WatchedFileHandler  # only a log file needs it

        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(WatchedFileHandler(log_file, encoding="utf-8"))
    if console is not None:
        handlers.append(logging.StreamHandler(console))
    if terminal is not None:
        shown = logging.StreamHandler(terminal)
        shown.addFilter(_ForTerminal())
        handlers.append(shown)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)


def apply_log_config(path: Path) -> None:
    """bandersnatch's `log-config`: a `logging.config.fileConfig` file on top of the usual setup.

    Loggers the file does not name keep logging (bandersnatch disables them, which would silence
    this tool's `mirror_tool.*` loggers under a file written for bandersnatch's). ValueError with
    one line when the file cannot be applied.
    """
    import configparser
    import logging.config

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        logging.config.fileConfig(path, disable_existing_loggers=False)
    except (configparser.Error, KeyError, ValueError, TypeError, AttributeError, ImportError, OSError) as exc:
        raise ValueError(f"{path}: not a logging config file ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def log_config_warnings(logger: logging.Logger, warnings: tuple[str, ...]) -> None:
    """The config's warnings, once per run (`config: [section] key: ...`)."""
    for line in warnings:
        logger.warning("config: %s", line)


class Progress:
    """A single updating status line on stdout, only when stdout is a terminal (never under cron)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = total
        self.done = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def advance(self, files: int, nbytes: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            self.done += 1
            now = time.monotonic()
            if now - self._last < 0.2 and self.done < self.total:
                return
            self._last = now
            self.stream.write(f"\r{self.done}/{self.total} projects, {files} files, {nbytes} bytes ")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
