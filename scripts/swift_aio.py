#!/usr/bin/python3
"""A single-node OpenStack Swift ("all in one") speaking the S3 and Swift APIs, for tests and demos.

Why: the object-store backend is tested against a real store, never a mock. Debian 12 packages
Swift 2.30 (`swift-proxy`, `swift-object`, `swift-container`, `swift-account`; `memcached` holds
tempauth's tokens). This script runs our own instance of them with every file under one
caller-given directory, so it never uses the distribution's /etc/swift services and several
instances can run side by side. One file, standard library only: a playbook can run it on a
test host with `ansible.builtin.script`.

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
import json
import os
import pwd
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ACCOUNT, USER = "mirror", "writer"  # tempauth: the S3 access key and the Swift user are mirror:writer
BACKENDS = ("account", "container", "object")
SERVERS = ("memcached", *BACKENDS, "object-updater", "proxy")
DEFAULT_PORT = 18673  # away from Swift's own defaults (6200-6202, 8080) and the ephemeral range
UNIT_DIR = Path("/etc/systemd/system")
TARGET = "swift-aio.target"
NOT_RUNNING = 3
PACKAGES = "swift-proxy swift-object swift-container swift-account memcached"


class AioError(Exception):
    """A problem the caller must fix; printed as one line."""


# --- configuration ----------------------------------------------------------------------------

COMMON = """\
[DEFAULT]
bind_ip = {bind}
bind_port = {port}
workers = {workers}
user = {user}
swift_dir = {top}/etc
devices = {top}/srv
mount_check = false
recon_cache_path = {top}/run
# Logs go to stderr (-v): our log file, or the journal under systemd. A missing syslog socket
# keeps them out of the machine's syslog (Swift then sends them to UDP 127.0.0.1:514).
log_address = {top}/run/no-syslog

"""

BACKEND = """\
[pipeline:main]
pipeline = healthcheck {name}-server

[app:{name}-server]
use = egg:swift#{name}

[filter:healthcheck]
use = egg:swift#healthcheck
"""

# The updater replays container-listing updates the object server could not send at once, so
# listings converge under load too.
UPDATER = """
[object-updater]
interval = 5
"""

# As in Swift's s3api documentation: s3api before the auth middleware and slo after it
# (multipart uploads are SLO manifests); tempurl for signed anonymous reads.
PROXY = """\
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl \
s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_{account}_{user} = {secret} .admin
token_life = 86400

[filter:s3api]
use = egg:swift#s3api
location = {region}

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached}
"""
PLAIN_FILTERS = {name: name.replace("-", "_") for name in (
    "catch_errors", "gatekeeper", "healthcheck", "proxy-logging", "listing_formats", "bulk", "tempurl", "copy",
    "slo", "dlo")}  # pipeline name: entry point

SWIFT_CONF = """\
[swift-hash]
swift_hash_path_prefix = {hash_prefix}
swift_hash_path_suffix = {hash_suffix}

[storage-policy:0]
name = Policy-0
default = yes
"""

RING_BUILDER = """
import sys
from swift.common.ring import RingBuilder
for name, port in zip(sys.argv[2::2], sys.argv[3::2]):
    builder = RingBuilder(8, 1, 0)  # 256 partitions, one replica, no min_part_hours
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
                     "device": "d1", "weight": 100})
    builder.rebalance()
    builder.get_ring().save(f"{sys.argv[1]}/{name}.ring.gz")
    builder.save(f"{sys.argv[1]}/{name}.builder")
"""


def render_configs(top: Path, state: dict) -> dict[str, str]:
    """Every config file of the instance, by file name under etc/."""
    common = {"top": top, "workers": state["workers"], "user": state["user"]}
    files = {"swift.conf": SWIFT_CONF.format(**state)}
    for name in BACKENDS:
        files[f"{name}-server.conf"] = (
            COMMON.format(bind="127.0.0.1", port=state["ports"][name], **common)
            + BACKEND.format(name=name)
            + (UPDATER if name == "object" else "")
        )
    proxy = PROXY.format(account=ACCOUNT, user=USER, secret=state["secret"], region=state["region"],
                         memcached=state["ports"]["memcached"])
    filters = "".join(f"\n[filter:{name}]\nuse = egg:swift#{egg}\n" for name, egg in PLAIN_FILTERS.items())
    files["proxy-server.conf"] = COMMON.format(bind=state["bind"], port=state["port"], **common) + proxy + filters
    return files


def build_rings(top: Path, state: dict) -> None:
    """One ring per backend with one device and one replica, rebuilt when a backend port moved.

    With a single device every partition lives on it, so a rebuilt ring finds the old data.
    """
    if state.get("ring_ports") == state["ports"] and all((top / "etc" / f"{b}.ring.gz").exists() for b in BACKENDS):
        return
    pairs = [str(v) for b in BACKENDS for v in (b, state["ports"][b])]
    run(["/usr/bin/python3", "-c", RING_BUILDER, str(top / "etc"), *pairs], "build the rings")
    state["ring_ports"] = dict(state["ports"])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds the secret)."""
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def load_state(top: Path) -> dict | None:
    path = top / "state.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def endpoint_lines(state: dict) -> list[str]:
    """What a client needs, as KEY=VALUE lines (the proxy's address; 127.0.0.1 for a wildcard)."""
    host = "127.0.0.1" if state["bind"] in ("0.0.0.0", "") else state["bind"]
    base = f"http://{host}:{state['port']}"
    return [
        f"SWIFT_AIO_ENDPOINT={base}",
        f"SWIFT_AIO_REGION={state['region']}",
        f"SWIFT_AIO_ACCESS_KEY={ACCOUNT}:{USER}",
        f"SWIFT_AIO_SECRET_KEY={state['secret']}",
        f"SWIFT_AIO_AUTH_URL={base}/auth/v1.0",
        f"SWIFT_AIO_USER={ACCOUNT}:{USER}",
        f"SWIFT_AIO_KEY={state['secret']}",
        f"SWIFT_AIO_STORAGE_URL={base}/v1/AUTH_{ACCOUNT}",
    ]


def configure(top: Path, args: argparse.Namespace, previous: dict | None) -> dict:
    """Settle ports, secrets and paths, write every config file and the rings; returns the state."""
    state = dict(previous or {})
    for key in ("secret", "hash_prefix", "hash_suffix"):
        state.setdefault(key, secrets.token_hex(16))
    state["bind"] = args.bind or state.get("bind") or "127.0.0.1"
    if args.port == 0:  # any free port; the last one while it stays free
        last = state.get("port")
        state["port"] = last if last and port_free(state["bind"], last) else free_port()
    else:
        state["port"] = args.port or state.get("port") or DEFAULT_PORT
    if not port_free(state["bind"], state["port"]):
        raise AioError(f"port {state['port']} on {state['bind']} is in use: pass another --port (0 = any free)")
    state["region"] = args.region or state.get("region") or "us-east-1"
    state["workers"] = args.workers if args.workers is not None else state.get("workers", 1)
    state["user"] = pwd.getpwuid(os.geteuid()).pw_name
    state["mode"] = "systemd" if args.systemd else "processes"
    ports, taken = dict(state.get("ports") or {}), {state["port"]}
    for name in (*BACKENDS, "memcached"):
        port = ports.get(name)
        while not port or port in taken or not port_free("127.0.0.1", port):
            port = free_port()
        ports[name] = port
        taken.add(port)
    state["ports"] = ports
    for sub in ("etc", "log", "run"):
        (top / sub).mkdir(exist_ok=True)
    for name, text in render_configs(top, state).items():
        (top / "etc" / name).write_text(text, encoding="utf-8")
    build_rings(top, state)
    write_private(top / "state.json", json.dumps(state, indent=2) + "\n")
    write_private(top / "swift-aio.env", "\n".join(endpoint_lines(state)) + "\n")
    write_private(top / "aws-credentials",
                  f"[default]\naws_access_key_id = {ACCOUNT}:{USER}\naws_secret_access_key = {state['secret']}\n")
    return state


# --- the device -------------------------------------------------------------------------------


def run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AioError(f"cannot {what}: {error}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise AioError(f"cannot {what}: {detail[-1] if detail else f'exit {done.returncode}'}")


def supports_user_xattr(directory: Path) -> bool:
    probe = directory / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.swift-aio", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def prepare_device(top: Path, loopback_size: str | None) -> None:
    """Make srv/d1 a directory with user xattrs, on an ext4 image when asked."""
    srv = top / "srv"
    srv.mkdir(exist_ok=True)
    if loopback_size and not os.path.ismount(srv):
        image = top / "disk.img"
        if not image.exists():
            run(["truncate", "-s", loopback_size, str(image)], "create the disk image")
            run(["mkfs.ext4", "-q", "-F", str(image)], "format the disk image")
        run(["mount", "-o", "loop", str(image), str(srv)], f"mount {image} (needs root and a loop device)")
    (srv / "d1").mkdir(exist_ok=True)
    if not supports_user_xattr(srv / "d1"):
        raise AioError(f"{srv} has no user xattrs (tmpfs?): choose another DIR or pass --loopback-size 2G")


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


def start(top: Path, args: argparse.Namespace) -> dict:
    missing = [path for path in map(executable, SERVERS) if not os.access(path, os.X_OK)]
    if missing:
        raise AioError(f"{missing[0]} is missing: apt-get install {PACKAGES} (see scripts/setup-host.sh)")
    previous = load_state(top)
    if previous and answers(previous) and previous["mode"] == ("systemd" if args.systemd else "processes"):
        if args.port and args.port != previous["port"]:
            raise AioError(f"already running on port {previous['port']}: stop it before changing --port")
        return previous
    stop(top, previous)  # whatever is left of an earlier start
    if args.systemd and args.loopback_size:
        raise AioError("--loopback-size is not remounted after a reboot: with --systemd use a DIR with user xattrs")
    prepare_device(top, args.loopback_size)
    state = configure(top, args, previous)
    if args.systemd:
        start_units(top, state)
    started = [] if args.systemd else start_processes(top, state)
    deadline = time.monotonic() + 90
    while not answers(state):
        dead = [server for server, process in zip(SERVERS, started) if process.poll() is not None]
        if dead or time.monotonic() > deadline:
            hint = log_hint(top)
            stop(top, state)
            raise AioError(f"Swift did not start: {dead[0] + ' exited' if dead else 'no answer in 90 s'}{hint}")
        time.sleep(0.2)
    return state


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
                print("\n".join(endpoint_lines(start(top, args))))
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
