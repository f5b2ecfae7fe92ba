"""Facts and helpers of the objectstore scenario (hosts from hosts.sh, variables from inventory.yml)."""

from __future__ import annotations

import json
import shlex
import time

SWIFT = "objstore-swift"
MIRRORS = {"objstore-mirror1": "mirror1/", "objstore-mirror2": "mirror2/"}  # host -> its prefix in the bucket
BUCKET = "pypi"
USER = "pypi-mirror"
VENV = "/opt/pypi-mirror/venv"
CONFIG = "/etc/pypi-mirror.conf"
DATA_DIR = "/srv/pypi-mirror"
WRAPPER_LOG = "/var/log/pypi-mirror/wrapper.log"
CREDENTIALS = "/etc/pypi-mirror.object-store-credentials"


def upstream(swift_host, endpoint: str, payload: dict | None = None) -> dict:
    """The fake upstream's control API, from inside the Swift host (nothing is published)."""
    data = "" if payload is None else f"-d {shlex.quote(json.dumps(payload))}"
    out = swift_host.check_output(f"curl -fsS {data} http://127.0.0.1:8081/_fake/{endpoint}")
    doc = json.loads(out)
    assert doc.get("ok"), doc
    return doc


def as_mirror_user(command: str) -> str:
    return f"runuser -u {USER} -- {command}"


def wrapper_run(host):
    """One `pypi-mirror-run`, as the cron line would run it (the mirror user, the role's config)."""
    return host.run(as_mirror_user(f"{VENV}/bin/pypi-mirror-run -c {CONFIG}"))


def verify(host, *args: str) -> dict:
    done = host.run(as_mirror_user(f"{VENV}/bin/pypi-mirror -c {CONFIG} verify --json " + " ".join(args)))
    return json.loads(done.stdout)


def mirror_serial(host) -> int:
    return int(host.file(f"{DATA_DIR}/status").content_string.strip())


def bucket_keys(swift_host, prefix: str) -> list[str]:
    """Object names below `prefix` in the bucket, listed with a tempauth token (anonymous listing
    is not allowed: the ACL is .r:* without .rlistings)."""
    key = swift_host.check_output("python3 /opt/swift-aio/swift_aio.py env /srv/swift-aio | sed -n 's/^SWIFT_AIO_KEY=//p'")
    token = swift_host.check_output(
        f"curl -fsS -o /dev/null -D - -H 'X-Storage-User: mirror:writer' -H 'X-Storage-Pass: {key}' "
        "http://127.0.0.1:8080/auth/v1.0 | sed -n 's/^X-Auth-Token: //ip' | tr -d '\\r'")
    names = swift_host.check_output(
        f"curl -fsS -H 'X-Auth-Token: {token}' 'http://127.0.0.1:8080/v1/AUTH_mirror/{BUCKET}?prefix={prefix}&limit=10000'")
    return names.splitlines()


def wait_for(predicate, seconds: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds}s waiting for {what}"
        time.sleep(interval)
