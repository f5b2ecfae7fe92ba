#!/usr/bin/python3
"""A single-node OpenStack Swift ("all in one") speaking the S3 and Swift APIs, for tests and demos.

Why: the object-store backend is tested against a real store, never a mock. Debian 12 packages
Swift 2.30 (`swift-proxy`, `swift-object`, `swift-container`, `swift-account`; `memcached` holds
tempauth's tokens). This script runs our own instance of them with every file under one
caller-given directory, so it never uses the distribution's /etc/swift services and several
instances can run side by side. Standard library only, with its sibling swift_aio_config.py (the
files an instance runs with): a playbook copies both to a test host and runs this one there.

    swift_aio.py start DIR [--port N] [--bind ADDR] [--region R] [--workers N]
                           [--loopback-size SIZE] [--systemd]
    swift_aio.py stop DIR       # stops it, whichever way it was started; no process is left
    swift_aio.py status DIR     # exit 0 when it answers, 3 when it does not
    swift_aio.py env DIR        # endpoint and credentials as KEY=VALUE lines (start prints them too)

`start` is idempotent: when the instance already answers it only prints the KEY=VALUE lines.
`--port 0` picks a free port (kept across restarts while it stays free). Without `--systemd` the
servers are background processes in sessions of their own (pytest on this machine). With
`--systemd` (a test host with systemd as PID 1) they are units `swift-aio-*.service` grouped by
`swift-aio.target` and enabled, so they come back after a reboot; one such instance per host.
Errors: one line on stderr, exit code 1.

DIR holds etc/ (swift.conf, server configs, rings), srv/d1/ (the one device; Swift keeps object
metadata in user xattrs, so without them pass --loopback-size to mount an ext4 image on srv/),
log/ (one log per server), run/, state.json (ports, secrets), swift-aio.env and aws-credentials
(mode 0600). Only the proxy listens on --bind; account, container, object and memcached listen
on 127.0.0.1 ports picked free at the first start and kept while they stay free.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling module
from swift_aio_config import (  # noqa: E402
    BACKENDS,
    DEFAULT_PORT,
    AioError,
    configure,
    endpoint_lines,
    load_state,
    prepare_device,
    run,
)

SERVERS = ("memcached", *BACKENDS, "object-updater", "proxy")
UNIT_DIR = Path("/etc/systemd/system")
TARGET = "swift-aio.target"
NOT_RUNNING = 3
PACKAGES = "swift-proxy swift-object swift-container swift-account memcached"


# --- processes and units ----------------------------------------------------------------------


def executable(server: str) -> str:
    if server == "memcached":
        return "/usr/bin/memcached"
    return "/usr/bin/swift-object-updater" if server == "object-updater" else f"/usr/bin/swift-{server}-server"


def command(server: str, top: Path, state: dict) -> list[str]:
    """The foreground command line of `server`: the same for processes and units.

    Each names a path inside DIR, which is how stop finds exactly this instance's processes.
    """
    if server == "memcached":
        return [executable(server), "-l", "127.0.0.1", "-p", str(state["ports"]["memcached"]), "-U", "0",
                "-m", "64", "-u", state["user"], "-P", str(top / "run" / "memcached.pid")]
    conf = "object-server.conf" if server == "object-updater" else f"{server}-server.conf"
    return [executable(server), str(top / "etc" / conf), "-v"]


def our_processes(top: Path) -> list[int]:
    """Pids of every process whose command line names a file of this instance.

    Only in our pid namespace: a container's processes show in the host's /proc too.
    """
    marker, namespace = f"{top}/".encode(), os.readlink("/proc/self/ns/pid")
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                same_namespace = os.readlink(entry / "ns" / "pid") == namespace
            except OSError:
                continue
            if same_namespace and marker in cmdline and (b"swift-" in cmdline or b"memcached" in cmdline):
                found.append(int(entry.name))
    return found


def start_processes(top: Path, state: dict) -> list[subprocess.Popen[bytes]]:
    started = []
    for server in SERVERS:
        with open(top / "log" / f"{server}.log", "ab") as log:
            started.append(subprocess.Popen(command(server, top, state), stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, start_new_session=True))
    return started


def stop_processes(top: Path) -> None:
    """SIGTERM this instance's processes, SIGKILL what is left after 15 s."""
    for signum, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        pids = our_processes(top)
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            pids = our_processes(top)
            time.sleep(0.1)
        if not pids:
            return
    raise AioError(f"processes {pids} survived SIGKILL")


def systemctl(*args: str) -> None:
    run(["systemctl", *args], "systemctl " + " ".join(args))


def start_units(top: Path, state: dict) -> None:
    if not Path("/run/systemd/system").is_dir():
        raise AioError("--systemd needs systemd as PID 1")
    header = f"# Written by scripts/swift_aio.py for {top}; its stop removes it.\n"
    target = UNIT_DIR / TARGET
    if target.exists() and not target.read_text().startswith(header):
        raise AioError(f"{target} belongs to another instance: stop that one first (one per host)")
    units = [f"swift-aio-{server}.service" for server in SERVERS]
    for server, unit in zip(SERVERS, units):
        (UNIT_DIR / unit).write_text(
            f"{header}[Unit]\nDescription=Swift all-in-one: {server}\nPartOf={TARGET}\n\n"
            f"[Service]\nExecStart={' '.join(command(server, top, state))}\nRestart=on-failure\n\n"
            f"[Install]\nWantedBy={TARGET}\n"
        )
    target.write_text(f"{header}[Unit]\nDescription=Swift all-in-one\nWants={' '.join(units)}\n\n"
                      "[Install]\nWantedBy=multi-user.target\n")
    systemctl("daemon-reload")
    systemctl("enable", "--quiet", TARGET)
    systemctl("restart", TARGET, *units)


def stop_units() -> None:
    units = [f"swift-aio-{server}.service" for server in SERVERS]
    subprocess.run(["systemctl", "disable", "--now", "--quiet", TARGET, *units], capture_output=True, check=False)
    for name in (*units, TARGET):
        (UNIT_DIR / name).unlink(missing_ok=True)
    systemctl("daemon-reload")


# --- the actions ------------------------------------------------------------------------------


def answers(state: dict, timeout: float = 2.0) -> bool:
    """True when every server answers its healthcheck and tempauth hands out a working token.

    The backends are asked directly: the proxy comes up first and would answer 503 for them.
    """
    env = dict(line.split("=", 1) for line in endpoint_lines(state))
    checks = [f"http://127.0.0.1:{state['ports'][name]}/healthcheck" for name in BACKENDS]
    try:
        for url in (*checks, env["SWIFT_AIO_ENDPOINT"] + "/healthcheck"):
            with urllib.request.urlopen(url, timeout=timeout):
                pass
        login = {"X-Auth-User": env["SWIFT_AIO_USER"], "X-Auth-Key": env["SWIFT_AIO_KEY"]}
        with urllib.request.urlopen(urllib.request.Request(env["SWIFT_AIO_AUTH_URL"], headers=login),
                                    timeout=timeout) as reply:
            token = reply.headers.get("X-Auth-Token", "")
        account = urllib.request.Request(env["SWIFT_AIO_STORAGE_URL"], method="HEAD", headers={"X-Auth-Token": token})
        with urllib.request.urlopen(account, timeout=timeout):
            return True
    except (OSError, ValueError):  # urllib's errors (HTTP 4xx/5xx too) are OSErrors
        return False


def log_hint(top: Path) -> str:
    """The last error line of the servers' logs, for the one-line message."""
    for server in SERVERS:
        path = top / "log" / f"{server}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        bad = [line for line in lines if "rror" in line or "Traceback" in line]
        if bad:
            return f" ({path.name}: {bad[-1].strip()[:200]})"
    return f" (logs in {top / 'log'})"


def start(top: Path, args: argparse.Namespace) -> tuple[dict, bool]:
    """Start the instance unless it already answers; returns its state and whether it started."""
    missing = [path for path in map(executable, SERVERS) if not os.access(path, os.X_OK)]
    if missing:
        raise AioError(f"{missing[0]} is missing: apt-get install {PACKAGES} (see scripts/setup-host.sh)")
    previous = load_state(top)
    if previous and answers(previous) and previous["mode"] == ("systemd" if args.systemd else "processes"):
        if args.port and args.port != previous["port"]:
            raise AioError(f"already running on port {previous['port']}: stop it before changing --port")
        return previous, False
    if args.systemd and args.loopback_size:
        raise AioError("--loopback-size is not remounted after a reboot: with --systemd use a DIR with user xattrs")
    stop(top, previous)  # whatever is left of an earlier start
    prepare_device(top, args.loopback_size)
    state = configure(top, args, previous)
    started = [] if args.systemd else start_processes(top, state)
    if args.systemd:
        start_units(top, state)
    deadline = time.monotonic() + 90
    while not answers(state):
        dead = [server for server, process in zip(SERVERS, started) if process.poll() is not None]
        if dead or time.monotonic() > deadline:
            hint = log_hint(top)
            stop(top, state)
            raise AioError(f"Swift did not start: {dead[0] + ' exited' if dead else 'no answer in 90 s'}{hint}")
        time.sleep(0.2)
    return state, True


def stop(top: Path, state: dict | None) -> None:
    if state and state.get("mode") == "systemd":
        stop_units()
    stop_processes(top)
    if os.path.ismount(top / "srv"):
        run(["umount", str(top / "srv")], f"unmount {top / 'srv'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="swift_aio.py", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "status", "env"))
    parser.add_argument("directory", type=Path, help="where every file of this instance lives")
    parser.add_argument("--port", type=int, help=f"proxy port, S3 and Swift API (0: any free); default {DEFAULT_PORT}")
    parser.add_argument("--bind", help="proxy address; default 127.0.0.1")
    parser.add_argument("--region", help="S3 region (s3api location); default us-east-1")
    parser.add_argument("--workers", type=int, help="worker processes per server; default 1")
    parser.add_argument("--loopback-size", help="mount an ext4 image of this size (e.g. 2G) on DIR/srv")
    parser.add_argument("--systemd", action="store_true", help="run the servers as systemd units")
    args = parser.parse_args(argv)
    top = args.directory.resolve()
    try:
        if args.action == "env" and not (top / "state.json").exists():
            raise AioError(f"no instance in {top} (run start first)")
        if args.action in ("stop", "status") and not (top / "state.json").exists():
            if args.action == "status":
                print("swift-aio: not running")
            return 0 if args.action == "stop" else NOT_RUNNING
        top.mkdir(parents=True, exist_ok=True)
        with open(top / ".lock", "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one start or stop at a time per instance
            state = load_state(top)
            if args.action == "start":
                state, started = start(top, args)
                print("\n".join(endpoint_lines(state)))
                if started:  # for humans and for Ansible's changed_when; nothing when it already ran
                    print(f"swift-aio: started on port {state['port']}", file=sys.stderr)
            elif args.action == "stop":
                stop(top, state)
            elif args.action == "status":
                running = bool(state) and answers(state)
                print(f"swift-aio: running on port {state['port']}" if running else "swift-aio: not running")
                return 0 if running else NOT_RUNNING
            else:
                print("\n".join(endpoint_lines(state or {})))
    except AioError as error:
        print(f"swift-aio: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
