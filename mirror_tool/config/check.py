"""`pypi-mirror check-config PATH`: judge a config file and do nothing else.

The role runs it as the `validate:` command of the config template, so it must answer from the
file alone: it never writes the example config where the file is missing (that is the normal
commands' reply to an operator), never reads or creates anything under the mirror directory, and
speaks only on failure: the same one line the other commands print, exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from mirror_tool.config.loader import load_config
from mirror_tool.errors import ConfigError
from mirror_tool.exitcodes import ExitCode


def problem_of(path: str | Path) -> ConfigError | None:
    """The first problem of the config at `path`, or None when the tool would accept it."""
    return _judge(path)[0]


def _judge(path: str | Path) -> tuple[ConfigError | None, tuple[str, ...]]:
    try:
        config = load_config(path)
    except ConfigError as exc:
        return exc, ()
    except FileNotFoundError:
        return ConfigError("", "", f"{path}: no such file"), ()
    except OSError as exc:
        return ConfigError("", "", f"{path}: {exc.strerror or exc}"), ()
    return None, config.warnings


def check_config(path: str | Path, *, prog: str = "pypi-mirror", stderr: TextIO | None = None) -> int:
    """Exit code of `check-config`: 0 when valid (its warnings, if any, on stderr), 2 with one
    line on stderr otherwise."""
    problem, warnings = _judge(path)
    out = stderr or sys.stderr
    if problem is None:
        for line in warnings:
            print(f"{prog}: config warning: {line}", file=out)
        return int(ExitCode.OK)
    print(f"{prog}: config error: {problem}", file=out)
    return int(ExitCode.CONFIG)
