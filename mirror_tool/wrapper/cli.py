"""`pypi-mirror-run [-c CONFIG]`: the command cron (or a systemd timer) runs.

Order: config (exit 2 on a bad one, nothing touched), logging, lock (exit 4 when busy, one line,
nothing else), then one WrapperRun under the `[wrapper] time-limit`. Exit codes: docs/design.md.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mirror_tool.config import load_config, write_example_config
from mirror_tool.errors import ConfigError, LockBusy, MirrorError
from mirror_tool.exitcodes import ExitCode
from mirror_tool.lock import MirrorLock
from mirror_tool.logs import apply_log_config, log_config_warnings, setup_logging
from mirror_tool.stop import StopToken
from mirror_tool.wrapper.clock import Clock, clock_offset, wall_clock
from mirror_tool.wrapper.run import WrapperRun
from mirror_tool.wrapper.settings import resolve

PROG = "pypi-mirror-run"
DEFAULT_CONFIG = "/etc/pypi-mirror.conf"
log = logging.getLogger(PROG)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Sync the mirror, PURGE stale CDN pages, retry them, write metrics (one cron run).",
    )
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help=f"config file (default {DEFAULT_CONFIG})")
    parser.add_argument("--allow-root", action="store_true",
                        help="run as root even when the mirror directory belongs to another user")
    return parser.parse_args(argv)


def _config_error(problem: str) -> int:
    print(f"{PROG}: config error: {problem}", file=sys.stderr)
    return int(ExitCode.CONFIG)


def _write_example(path: str) -> int:
    """Missing config: leave the commented example there for the operator to review (exit 2)."""
    try:
        write_example_config(path)
    except OSError as exc:
        return _config_error(f"{path} is missing and the example cannot be written there: {exc.strerror or exc}")
    print(f"{PROG}: wrote an example config to {path}; review it and run again", file=sys.stderr)
    return int(ExitCode.CONFIG)


def main(argv: list[str] | None = None, clock: Clock = wall_clock) -> int:
    """Entry point of the console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one line
        return int(ExitCode.CONFIG) if exc.code else int(ExitCode.OK)
    try:
        clock_offset()
        config = load_config(args.config)
        settings = resolve(config)
    except FileNotFoundError:
        return _write_example(args.config)
    except ConfigError as exc:
        return _config_error(str(exc))
    except ValueError as exc:
        return _config_error(str(exc))
    except MirrorError as exc:  # e.g. example config written for review
        print(f"{PROG}: {exc}", file=sys.stderr)
        return int(exc.exit_code)

    if not args.allow_root:
        from mirror_tool.rootcheck import refusal

        refused = refusal(config.mirror.directory, PROG, argv)
        if refused:
            print(refused, file=sys.stderr)
            return int(ExitCode.CONFIG)
    # By hand on a terminal: the log file gets everything, the terminal what a person must see.
    terminal = sys.stdout if settings.log_file and _is_terminal(sys.stdout) else None
    try:
        setup_logging(log_file=settings.log_file, console=None if settings.log_file else sys.stdout, terminal=terminal)
    except OSError as exc:
        print(f"{PROG}: cannot open log file {settings.log_file}: {exc.strerror or exc}", file=sys.stderr)
        return int(ExitCode.STORAGE)
    if config.mirror.log_config is not None:
        try:
            apply_log_config(config.mirror.log_config)
        except ValueError as exc:
            return _config_error(str(ConfigError("mirror", "log-config", str(exc))))
    log_config_warnings(log, config.warnings)

    stop = StopToken.after(settings.time_limit)
    stop.install_signal_handlers()
    lock = MirrorLock(settings.lock_file)
    try:
        lock.acquire()
    except LockBusy as exc:
        log.warning("%s; not starting", exc)
        return int(ExitCode.LOCKED)
    except MirrorError as exc:
        log.error("%s", exc)
        return int(exc.exit_code)
    try:
        return int(WrapperRun(config, settings, stop, clock).execute())
    finally:
        lock.release()
        logging.shutdown()


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
