"""The files of a Swift all-in-one instance: ports, secrets, config files, rings, its device.

Why a module of its own: scripts/swift_aio.py runs and stops the servers; this part decides what
they run with and writes it under the instance directory (see swift_aio.py for the layout). Standard
library only, like swift_aio.py: the pair is copied to a test host and run with the system Python.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import socket
import subprocess
from pathlib import Path

ACCOUNT, USER = "mirror", "writer"  # tempauth: the S3 access key and the Swift user are mirror:writer
BACKENDS = ("account", "container", "object")
DEFAULT_PORT = 18673  # away from Swift's own defaults (6200-6202, 8080) and the ephemeral range


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
