"""Logging of `pypi-mirror-run`: timestamped lines as they happen, to the log file or stdout.

The seed's wrapper buffered everything until the end; here the root logger gets one handler that
flushes after every record, so the sync engine's own lines stream into the same file.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s: %(message)s"


class _LineBufferedFileHandler(logging.FileHandler):
    """Append-mode file handler whose stream is line-buffered (flushed at every newline)."""

    def _open(self):  # type: ignore[override]
        return open(self.baseFilename, self.mode, encoding=self.encoding, buffering=1)


def configure_logging(log_file: str | Path | None, level: int = logging.INFO) -> logging.Handler:
    """Send the root logger to `log_file` (appended) or to stdout; returns the handler."""
    if log_file:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = _LineBufferedFileHandler(path, mode="a", encoding="utf-8")
    else:
        try:
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
        handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 debug lines would add noise; they never carry headers, but keep them out anyway.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    return handler
