"""Logging setup (one format for console and file) and the terminal-only progress line."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s: %(message)s"


def setup_logging(debug: bool = False, log_file: Path | None = None) -> None:
    """Log to stderr (and `log_file` if given); DEBUG with --debug, INFO otherwise."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    level = logging.DEBUG if debug else logging.INFO
    formatter = logging.Formatter(FORMAT)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter)
    root.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(formatter)
        root.addHandler(fh)
    root.setLevel(level)
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
