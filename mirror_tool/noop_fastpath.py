"""The no-op fast path of `pypi-mirror mirror`: one XML-RPC call, no sync engine imported.

Why: most cron runs find nothing new upstream, and for those the cost is interpreter start-up
plus imports (the engine, `requests`, `packaging`, `email`, `dataclasses`...): ~100 ms against
~10 ms for the call itself. This module imports only the stdlib pieces it needs and answers a
no-op run on its own; anything else returns None and the full CLI runs as before (which redoes
the XML-RPC call: one extra small request, only when there is work).

It acts only when everything is as a previous full run left it, so it never has to judge
anything the full path would judge differently:
- the command line is exactly `[-c PATH] mirror`;
- `<directory>/fastpath`, written by the full CLI after it validated the config, holds this
  config file's exact text and this tool version (so every key was checked by the real parser);
- a mirror serial exists, no `todo`, the `generation` file is there, the change feed is XML-RPC
  (`auto` or `xmlrpc`) and no index reconciliation is due;
- the lock is free (a busy lock is reported by the full path, exit 4);
- the upstream answers `changelog_since_serial(<mirror serial>)` with HTTP 200 and an empty array.
Then it writes `state.json` and `stale.json` as the full path would for a no-op, logs the same
summary line, and exits 0.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time

from mirror_tool import __version__

if False:  # typing only (no `typing` import at run time)
    from mirror_tool.config import Config

FASTPATH_FILE = "fastpath"
_CONFIG_SEPARATOR = "\n--- config file, exactly as validated ---\n"
DEFAULT_CONFIG = "/etc/pypi-mirror.conf"
_EMPTY_ANSWERS = (
    b"<methodResponse><params><param><value><array><data></data></array></value></param></params></methodResponse>",
    b"<methodResponse><params><param><value><array><data/></array></value></param></params></methodResponse>",
)


def try_noop(argv: list[str] | None = None) -> int | None:
    """Exit code 0 when this run was a no-op handled here; None: run the full CLI."""
    args = sys.argv[1:] if argv is None else list(argv)
    config_path = _config_path(args)
    if config_path is None:
        return None
    try:
        return _run(config_path)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # anything unexpected: the full path will do it properly


def _config_path(args: list[str]) -> str | None:
    if args == ["mirror"]:
        return DEFAULT_CONFIG
    if len(args) == 3 and args[0] in ("-c", "--config") and args[2] == "mirror":
        return args[1]
    if len(args) == 2 and args[0].startswith("--config=") and args[1] == "mirror":
        return args[0][len("--config="):]
    return None


def _mirror_directory(text: str) -> str | None:
    """`directory` of `[mirror]` as a plain `key = value` line (anything fancier: None)."""
    section = ""
    found = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section != "mirror" or raw[:1].isspace():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "directory":
            found = value.strip()
    return found if found and found.startswith("/") else None


def _run(config_path: str) -> int | None:
    with open(config_path, encoding="utf-8") as fh:
        text = fh.read()
    directory = _mirror_directory(text)
    if directory is None:
        return None
    with open(os.path.join(directory, FASTPATH_FILE), encoding="utf-8") as fh:
        known = _parse_record(fh.read())
    if known.get("version") != __version__ or known.get("config") != text or known.get("directory") != directory:
        return None
    if known["changelog_source"] not in ("auto", "xmlrpc"):
        return None
    if os.path.exists(os.path.join(directory, "todo")) or not os.path.exists(os.path.join(directory, "generation")):
        return None
    with open(os.path.join(directory, "status"), encoding="ascii") as fh:
        serial = int(fh.read().strip())
    with open(os.path.join(directory, "state.json"), encoding="utf-8") as fh:
        state_text = fh.read()
    upstream_serial = _json_number(state_text, "upstream_serial")
    last_reconcile = _json_number(state_text, "last_reconcile")
    started = time.time()
    t0 = time.monotonic()
    interval = float(known["reconcile_interval"]) * 3600.0
    if interval == 0 or (last_reconcile is not None and started - last_reconcile >= interval):
        return None
    lock_fd = _try_lock(os.path.join(directory, ".lock"))
    if lock_fd is None:
        return None
    try:
        if os.path.exists(os.path.join(directory, "todo")):  # a run finished between our checks
            return None
        log_file = known.get("log_file") or None
        if log_file:
            # Open it before anything is written: a log file the full path cannot open is exit 7
            # there, and must not be preceded by a state.json recording this run as a success.
            with open(log_file, "a", encoding="utf-8"):
                pass
        if not _feed_is_empty(known["master"], serial, float(known["timeout"])):
            return None
        ended = time.time()
        # The documents state.write_run_state / write_stale produce for a no-op (json.dumps,
        # indent=1; floats by repr, as json does). `failing` lists queued projects: none.
        state = {
            "upstream_serial": max(int(upstream_serial or 0), serial),
            "last_success": ended,
            "last_run_start": started,
            "last_run_end": ended,
            "last_reconcile": started if last_reconcile is None else last_reconcile,
        }
        body = "".join(f' "{key}": {value!r},\n' for key, value in state.items())
        _write(os.path.join(directory, "stale.json"), f'{{\n "generated": {ended!r},\n "projects": {{}}\n}}')
        _write(os.path.join(directory, "state.json"), f'{{\n{body} "failing": {{}}\n}}')
        _log(log_file, f"Sync finished: 0 projects, 0 files, 0 bytes, {time.monotonic() - t0:.1f} seconds, 0 stale, 0 failed")
        return 0
    finally:
        os.ftruncate(lock_fd, 0)
        os.close(lock_fd)


def _json_number(text: str, key: str) -> float | None:
    """The number (or null) under top-level `key` in a state.json our own writer produced.

    No `json` import: with the `re` it pulls in, that is ~5 ms of a ~30 ms no-op. The file's
    shape is fixed (state.write_run_state); anything unexpected raises ValueError and the full
    path runs instead.
    """
    marker = f'\n "{key}": '
    start = text.index(marker) + len(marker)
    end = start
    while end < len(text) and text[end] not in ",\n}":
        end += 1
    raw = text[start:end].strip()
    if raw == "null":
        return None
    return float(raw)


def _parse_record(text: str) -> dict[str, str]:
    """`key=value` lines, then the config file's exact text after the separator line."""
    head, sep, config = text.partition(_CONFIG_SEPARATOR)
    if not sep:
        raise ValueError("no config in the fast-path record")
    record = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    record["config"] = config
    return record


def _try_lock(path: str) -> int | None:
    """lock.MirrorLock's flock, without importing it (pathlib and the error classes cost the
    no-op more than the lock); None when busy: the full path then reports exit 4."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _feed_is_empty(master: str, serial: int, timeout: float) -> bool:
    """True when `changelog_since_serial(serial)` answers HTTP 200 with an empty array."""
    from mirror_tool import http11

    scheme, host, port, path = _split_master(master)
    body = (
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>changelog_since_serial</methodName>\n"
        f"<params>\n<param>\n<value><int>{serial}</int></value>\n</param>\n</params>\n</methodCall>\n"
    ).encode()
    conn = http11.Connection(scheme, host, port, timeout)
    try:
        resp = conn.request(
            "POST",
            path + "/pypi",
            {"Content-Type": "text/xml", "User-Agent": f"pypi-mirror/{__version__} (mirror_tool)", "Accept-Encoding": "identity"},
            body,
        )
        answer = resp.read_all()
    finally:
        conn.close()
    if resp.status != 200:
        return False
    compact = b"".join(answer.split())
    start = compact.find(b"<methodResponse>")
    return start >= 0 and compact[start:] in _EMPTY_ANSWERS


def _split_master(master: str) -> tuple[str, str, int | None, str]:
    """(scheme, host, port, path) of an http(s) URL the config parser accepted (no urllib: its
    import, with ipaddress, costs a no-op ~2 ms)."""
    scheme, sep, rest = master.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError(master)
    netloc, slash, path = rest.partition("/")
    netloc = netloc.rpartition("@")[2]
    if netloc.startswith("["):
        host, _, tail = netloc[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") else None
    else:
        host, colon, port_text = netloc.partition(":")
        port = int(port_text) if colon and port_text else None
    return scheme, host, port, (slash + path).rstrip("/")


def _write(path: str, text: str) -> None:
    """Atomic replace, like layout.atomic_write."""
    tmp = f"{os.path.dirname(path)}/.{os.path.basename(path)}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _log(log_file: str | None, message: str) -> None:
    """One line in the format of logs.FORMAT, on stderr and in the log file."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"
    line = f"{stamp} INFO: {message}\n"
    sys.stderr.write(line)
    sys.stderr.flush()
    if log_file:
        with open(log_file, "a", encoding="utf-8") as fh:
            fh.write(line)


def remember_config(config: "Config", config_path: str) -> None:
    """Called by the full CLI for `mirror` once the config is validated and the lock held:
    record what the fast path may trust (rewritten only when something changed)."""
    try:
        with open(config_path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return
    directory = _mirror_directory(text)
    if directory is None or os.path.normpath(directory) != str(config.mirror.directory):
        return  # the fast path's reading of the file would not find the same directory
    fields = {
        "version": __version__,
        "directory": directory,
        "master": config.mirror.master,
        "timeout": repr(float(config.mirror.timeout)),
        "changelog_source": config.mirror.changelog_source,
        "reconcile_interval": repr(float(config.mirror.reconcile_interval)),
        "log_file": str(config.mirror.log_file) if config.mirror.log_file else "",
    }
    record = "".join(f"{k}={v}\n" for k, v in fields.items()).rstrip("\n") + _CONFIG_SEPARATOR + text
    path = os.path.join(str(config.mirror.directory), FASTPATH_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == record:
                return
    except OSError:
        pass
    try:
        _write(path, record)
    except OSError:
        pass  # only an optimisation: the next run takes the full path


__all__ = ["try_noop", "remember_config", "FASTPATH_FILE"]
