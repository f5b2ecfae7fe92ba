"""`pypi-mirror` command line: mirror, sync, status, verify, delete, check-config.

Config errors and usage errors print one line and exit 2 before anything is touched; runs that
change the tree hold MirrorLock; every outcome maps to a documented exit code (exitcodes.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from mirror_tool import __version__
from mirror_tool.config import DEFAULT_CONFIG_PATH, Config, load_config, write_example_config
from mirror_tool.errors import ConfigError, LockBusy, MirrorError
from mirror_tool.exitcodes import ExitCode
from mirror_tool.logs import apply_log_config, log_config_warnings, setup_logging

PROG = "pypi-mirror"
log = logging.getLogger("mirror_tool.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        command = self.prog[len(PROG):].strip()
        where = f" ({command})" if command else ""
        self.exit(ExitCode.CONFIG, f"{PROG}: usage error{where}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Mirror a PyPI upstream into a static tree that pip and nginx serve.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG_PATH, help=f"config file (default {DEFAULT_CONFIG_PATH})")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    parser.add_argument("--log-file", type=Path, default=None, help="also append log lines to this file")
    parser.add_argument("--allow-root", action="store_true",
                        help="run as root even when the mirror directory belongs to another user")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_mirror = sub.add_parser("mirror", help="incremental sync (the first run is a full sync)")
    p_mirror.add_argument("--reconcile", action="store_true",
                          help="compare every project with the upstream's full listing, re-sync what differs, remove "
                               "what it no longer has, and take its serial (also when it went backwards)")
    p_mirror.add_argument("--force-check", action="store_true",
                          help="the same full comparison, but every project upstream lists is checked again (and "
                               "every file it lists); a serial that went backwards is still refused")
    p_sync = sub.add_parser("sync", help="sync these projects now, whatever the change feed says")
    p_sync.add_argument("names", nargs="+", metavar="NAME")
    p_status = sub.add_parser("status", help="mirror serial, upstream serial, last success, todo, stale, failing")
    p_status.add_argument("--json", action="store_true", help="machine-readable output")
    p_status.add_argument("--live", action="store_true",
                          help="ask the hub for its head (replica) or the upstream for its serial (hub) now")
    p_verify = sub.add_parser("verify", help="check every listed file's presence and hash")
    p_verify.add_argument("--repair", action="store_true", help="re-download missing or wrong files")
    p_verify.add_argument("--delete", action="store_true", help="delete files no page lists")
    p_verify.add_argument("--json", action="store_true", help="machine-readable output")
    p_delete = sub.add_parser("delete", help="remove projects from the mirror")
    p_delete.add_argument("names", nargs="+", metavar="NAME")
    p_delete.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    p_adopt = sub.add_parser("adopt", help="take over a tree bandersnatch wrote (seed serials, check files, keep todo)")
    p_adopt.add_argument("--from-bandersnatch", type=Path, required=True, metavar="CONFIG",
                         help="bandersnatch's config file (read as this tool's; its directory is adopted)")
    p_adopt.add_argument("--sizes-only", action="store_true", help="check file sizes, not hashes (faster)")
    p_adopt.add_argument("--json", action="store_true", help="machine-readable report")
    p_check = sub.add_parser("check-config",
                             help="check a config file: exit 0 silently, or 2 with one line naming the problem")
    p_check.add_argument("path", type=Path, metavar="PATH")
    return parser


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except FileNotFoundError:
        try:
            write_example_config(path)
        except OSError as exc:
            raise ConfigError("", "", f"{path} does not exist and an example cannot be written there: {exc.strerror}") from None
        raise ConfigError("", "", f"{path} did not exist: wrote a commented example there; review it, then run again") from None


#: Commands that write the tree and take the lock (so do `verify --repair` / `--delete`).
_WRITERS = ("mirror", "sync", "delete", "adopt")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "check-config":  # judges PATH only: no example written, no logging, no mirror
        from mirror_tool.config.check import check_config

        return check_config(args.path, prog=PROG)
    if args.command == "adopt":
        args.config = args.from_bandersnatch
    try:
        config = _load(args.config)
    except ConfigError as exc:
        print(f"{PROG}: config error: {exc}", file=sys.stderr)
        return int(ExitCode.CONFIG)
    if args.command != "status" and not args.allow_root:  # status writes nothing, not even a log line
        from mirror_tool.rootcheck import refusal

        refused = refusal(config.mirror.directory, PROG, argv)
        if refused:
            print(refused, file=sys.stderr)
            return int(ExitCode.CONFIG)
    try:
        log_file = None if args.command == "status" else args.log_file or config.mirror.log_file
        setup_logging(debug=args.debug, log_file=log_file, console=sys.stderr)
    except OSError as exc:
        print(f"{PROG}: cannot open log file: {exc.strerror}", file=sys.stderr)
        return int(ExitCode.STORAGE)
    if config.mirror.log_config is not None:
        try:
            apply_log_config(config.mirror.log_config)
        except ValueError as exc:
            print(f"{PROG}: config error: {ConfigError('mirror', 'log-config', str(exc))}", file=sys.stderr)
            return int(ExitCode.CONFIG)
    log_config_warnings(log, config.warnings)
    try:
        return int(_dispatch(args, config))
    except LockBusy as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return int(ExitCode.LOCKED)
    except MirrorError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)


def _dispatch(args: argparse.Namespace, config: Config) -> ExitCode:
    from mirror_tool.lock import MirrorLock
    from mirror_tool.stop import StopToken

    if args.command == "status":
        return _status(config, as_json=args.json, live=args.live)
    needs_lock = args.command in _WRITERS or (
        args.command == "verify" and (args.repair or args.delete)
    )
    token = StopToken.after(config.mirror.global_timeout if args.command == "mirror" else None)
    token.install_signal_handlers()
    lock = MirrorLock(config.lock_path) if needs_lock else None
    if lock is not None:
        lock.acquire()
    try:
        if args.command == "mirror":
            from mirror_tool.engine.run import FullCheck, run_mirror

            full_check = FullCheck.from_flags(reconcile=args.reconcile, force_check=args.force_check)
            return run_mirror(config, stop=token, full_check=full_check).exit_code
        if args.command == "sync":
            from mirror_tool.engine.run import run_sync

            return run_sync(config, list(args.names), stop=token).exit_code
        if args.command == "verify":
            from mirror_tool.maintenance.verify import run_verify

            return ExitCode(run_verify(config, repair=args.repair, delete=args.delete, as_json=args.json, stop=token))
        if args.command == "delete":
            from mirror_tool.maintenance.delete import run_delete

            return ExitCode(run_delete(config, list(args.names), dry_run=args.dry_run))
        if args.command == "adopt":
            return _adopt(config, sizes_only=args.sizes_only, as_json=args.json)
        raise AssertionError(args.command)
    finally:
        if lock is not None:
            lock.release()


def _adopt(config: Config, *, sizes_only: bool, as_json: bool) -> ExitCode:
    from mirror_tool.engine.adopt import adopt_tree, print_report
    from mirror_tool.state import StateFiles
    from mirror_tool.storage import open_storage

    if not config.web_dir.is_dir():
        raise ConfigError("mirror", "directory", f"no tree to adopt: {config.web_dir} does not exist")
    state = StateFiles(config.directory)
    storage = open_storage(config.mirror)
    state.prepare()
    storage.prepare()
    report = adopt_tree(config, storage, check_files="size" if sizes_only else "sha256", state=state)
    if as_json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print_report(report, sys.stdout)
    return ExitCode.OK


def status_report(config: Config, *, live: bool = False) -> dict[str, Any]:
    """The facts `status` prints: serials, last success, todo size, stale and failing projects,
    and the fleet's (fleet_status.py)."""
    from mirror_tool.fleet_status import fleet_report
    from mirror_tool.state import StateFiles

    files = StateFiles(config.mirror.directory)
    state = files.read_run_state()
    todo = files.read_todo()
    stale = files.read_stale()
    report = {
        "directory": str(files.root),
        "mirror_serial": files.read_status(),
        "upstream_serial": state.upstream_serial,
        "last_success": state.last_success,
        "last_run_start": state.last_run_start,
        "last_run_end": state.last_run_end,
        "todo": len(todo.projects) if todo else 0,
        "todo_target_serial": todo.target_serial if todo else None,
        "todo_reconcile": bool(todo and todo.reconcile),
        "upstream_regressed": None if state.regressed is None else state.regressed.as_json(),
        "stale": {
            name: {"expected_serial": e.expected_serial, "served_serial": e.served_serial, "first_seen": e.first_seen}
            for name, e in sorted(stale.items())
        },
        "failing": dict(sorted(state.failing.items())),
    }
    report.update(fleet_report(config, report["mirror_serial"], state.upstream_serial, live=live))
    return report


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "never"
    when = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{when} ({int(time.time() - ts)} s ago)"


def _status(config: Config, *, as_json: bool, live: bool) -> ExitCode:
    from mirror_tool.fleet_status import fleet_lines

    report = status_report(config, live=live)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        serial = report["mirror_serial"]
        print(f"directory:        {report['directory']}")
        print(f"mirror serial:    {serial if serial is not None else 'none (never synced)'}")
        print(f"upstream serial:  {report['upstream_serial']} ({report['upstream_lag_serials']} behind)")
        regressed = report["upstream_regressed"]
        if regressed is not None:
            print(f"REGRESSED:        upstream serial {regressed['upstream_serial']} < mirror serial "
                  f"{regressed['mirror_serial']} ({regressed['source']}), first seen {_fmt_time(regressed['first_seen'])}; "
                  "nothing syncs until it catches up or `pypi-mirror mirror --reconcile` accepts it")
        for line in fleet_lines(report, _fmt_time):
            print(line)
        print(f"last success:     {_fmt_time(report['last_success'])}")
        reconciling = f" (reconciliation to serial {report['todo_target_serial']})" if report["todo_reconcile"] else ""
        print(f"todo:             {report['todo']} projects{reconciling}")
        print(f"stale:            {len(report['stale'])} projects")
        for name, info in report["stale"].items():
            print(f"  {name}: expected serial {info['expected_serial']}, served {info['served_serial']}")
        print(f"failing:          {len(report['failing'])} projects")
        for name, error in report["failing"].items():
            print(f"  {name}: {error}")
    return ExitCode.OK
