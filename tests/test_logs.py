"""The one logging setup: the format operators grep, and a log file that survives a logrotate."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import re
from pathlib import Path

from mirror_tool.logs import setup_logging

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING): .+$")


def test_log_file_is_reopened_after_logrotate_moves_it(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "mirror.log"
    console = io.StringIO()
    setup_logging(log_file=log_file, console=console)
    try:
        logging.getLogger("mirror_tool.test").info("before the rotation")
        os.rename(log_file, tmp_path / "logs" / "mirror.log.1")  # what logrotate does (no copytruncate)
        logging.getLogger("mirror_tool.test").warning("after the rotation")
    finally:
        logging.getLogger().handlers[0].close()
    rotated = (tmp_path / "logs" / "mirror.log.1").read_text().splitlines()
    fresh = log_file.read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in rotated] == ["before the rotation"]
    assert [line.split(": ", 1)[1] for line in fresh] == ["after the rotation"]
    assert all(LINE.match(line) for line in rotated + fresh + console.getvalue().splitlines())
    assert len(console.getvalue().splitlines()) == 2


def test_debug_level_and_no_console(tmp_path: Path) -> None:
    log_file = tmp_path / "debug.log"
    setup_logging(debug=True, log_file=log_file, console=None)
    try:
        logging.getLogger("mirror_tool.test").debug("details")
        assert [type(h) for h in logging.getLogger().handlers] == [logging.handlers.WatchedFileHandler]
    finally:
        logging.getLogger().handlers[0].close()
    assert log_file.read_text().rstrip().endswith("DEBUG: details")
