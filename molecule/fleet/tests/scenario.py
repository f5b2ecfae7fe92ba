"""Facts and helpers shared by the verify tests.

The paths, user and cron line are the deployment contract of docs/design.md; the hosts and ports
are those scripts/testhosts.sh creates. Hosts are reached with testinfra's podman backend
(`podman exec`), the fake upstream's control API and the published nginx ports over 127.0.0.1.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

MIRRORS = ("mirror01.dfw", "mirror01.gra1", "mirror01.iad")
#: inventory/local: the hub syncs from the fake upstream, the replicas from the hub.
HUB = "mirror01.dfw"
REPLICAS = ("mirror01.gra1", "mirror01.iad")
HUB_URL_IN_FLEET = f"http://{HUB}"
PORT_BASE = int(os.environ.get("TESTHOSTS_PORT_BASE", "18080"))
UPSTREAM_URL = f"http://127.0.0.1:{PORT_BASE}"  # the fake upstream, as published to this machine
UPSTREAM_URL_IN_FLEET = "http://upstream:8080"  # the same, as the mirrors reach it
PUBLISHED = {name: f"http://127.0.0.1:{PORT_BASE + 1 + i}" for i, name in enumerate(MIRRORS)}

USER = "pypi-mirror"
VENV = "/opt/pypi-mirror/venv"
CONFIG = "/etc/pypi-mirror.conf"
CRON_FILE = "/etc/cron.d/pypi-mirror"
CRON_LOCK = "/run/pypi-mirror/cron.lock"
DATA_DIR = "/srv/pypi-mirror"
LOG_DIR = "/var/log/pypi-mirror"
METRICS_FILE = "/var/lib/node_exporter/textfile/pypi_mirror.prom"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

# Exact form of the sync line (docs/design.md); MINUTES and LIMIT are checked separately.
CRON_LINE = re.compile(
    r"(?P<minutes>\d+(?:,\d+)*) \* \* \* \* (?P<user>pypi-mirror) "
    r"(?P<command>flock -n /run/pypi-mirror/cron\.lock timeout -k 60 (?P<limit>\d+) "
    r"/opt/pypi-mirror/venv/bin/pypi-mirror-run -c /etc/pypi-mirror\.conf "
    r">> /var/log/pypi-mirror/cron\.log 2>&1)"
)
CRON_ENV = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)")

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def podman_host(name: str) -> str:
    """testinfra host spec: `podman exec` is much faster than the ansible backend."""
    return f"podman://{name}"


def http_get(url: str, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET over 127.0.0.1 without any proxy; (status, headers, body), HTTP errors included."""
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with _NO_PROXY.open(req, timeout=15) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def upstream(endpoint: str, payload: dict | None = None) -> dict:
    """The fake upstream's control API (tests/fakepypi/control.py): GET, or POST a JSON object."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(f"{UPSTREAM_URL}/_fake/{endpoint}", data=data,
                                 headers={"Content-Type": "application/json"},
                                 method="GET" if data is None else "POST")
    with _NO_PROXY.open(req, timeout=15) as resp:
        doc = json.load(resp)
    assert doc.get("ok"), f"control API {endpoint}: {doc}"
    return doc


@dataclass(frozen=True)
class CronJob:
    """The sync entry of /etc/cron.d/pypi-mirror, as cron reads it."""

    env: dict[str, str]      # NAME=value lines above the entry
    minutes: tuple[int, ...]
    user: str
    command: str             # what cron hands to /bin/sh -c
    limit: int               # the `timeout` seconds
    line: str


def parse_cron(text: str) -> CronJob:
    env: dict[str, str] = {}
    jobs = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if m := CRON_ENV.fullmatch(line):
            env[m["name"]] = m["value"]
        elif "pypi-mirror-run" in line:
            m = CRON_LINE.fullmatch(line)
            assert m, f"sync line differs from the contract: {line!r}"
            jobs.append(CronJob(dict(env), tuple(int(x) for x in m["minutes"].split(",")),
                                m["user"], m["command"], int(m["limit"]), line))
    assert len(jobs) == 1, f"expected exactly one pypi-mirror-run line, found {len(jobs)}"
    return jobs[0]


def cron_job(host) -> CronJob:
    return parse_cron(host.file(CRON_FILE).content_string)


def _cron_shell(host, job: CronJob, extra_env: dict[str, str] | None = None) -> str:
    home = host.user(job.user).home
    env = {"SHELL": "/bin/sh", "HOME": home, "LOGNAME": job.user, "PATH": "/usr/bin:/bin", **job.env,
           **(extra_env or {})}
    assigns = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    return (f"cd {shlex.quote(home)} 2>/dev/null || cd /; "
            f"exec setpriv --reuid={job.user} --regid={job.user} --init-groups "
            f"env -i {assigns} /bin/sh -c {shlex.quote(job.command)}")


def run_like_cron(host, job: CronJob, extra_env: dict[str, str] | None = None):
    """Run the entry as cron does: as its user, from its home, with only cron's environment
    (SHELL, HOME, LOGNAME, PATH) plus the file's variables, through /bin/sh -c.
    `extra_env` is for the wrapper's documented test clock only."""
    return host.run(_cron_shell(host, job, extra_env))


def start_like_cron(host, job: CronJob) -> None:
    """The same, in the background (a new session): returns at once."""
    res = host.run(f"setsid -f sh -c {shlex.quote(_cron_shell(host, job))} </dev/null >/dev/null 2>&1")
    assert res.rc == 0, res.stderr


def wait_cron_lock_free(host, seconds: int = 300) -> None:
    """Block until no sync holds the cron lock (taken as the mirror user, as cron would)."""
    res = host.run(f"setpriv --reuid={USER} --regid={USER} --init-groups flock -w {seconds} {CRON_LOCK} true")
    assert res.rc == 0, f"cron lock still held after {seconds}s: {res.stderr}"


def read_config(host) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(host.file(CONFIG).content_string)
    return cfg


def wrapper_log_path(host) -> str:
    """The wrapper's log-file, or cron.log when it logs to stdout."""
    return read_config(host).get("wrapper", "log-file", fallback="") or f"{LOG_DIR}/cron.log"


def metrics(host) -> dict[str, float]:
    """Unlabelled samples of the Prometheus textfile, name -> value."""
    out = {}
    for line in host.file(METRICS_FILE).content_string.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            out[name] = float(value)
    return out


def mirror_serial(host) -> int:
    return int(host.file(f"{DATA_DIR}/status").content_string.strip())


def status_json(host, live: bool = False) -> dict:
    """`pypi-mirror status --json` as the mirror user."""
    out = host.check_output(f"setpriv --reuid={USER} --regid={USER} --init-groups "
                            f"{VENV}/bin/pypi-mirror -c {CONFIG} status --json{' --live' if live else ''}")
    return json.loads(out)


def journal_head(host) -> dict:
    """The host's own change journal head (web/changes/head.json)."""
    return json.loads(host.file(f"{DATA_DIR}/web/changes/head.json").content_string)


def container_ip(name: str) -> str:
    """The test host's address on the podman network (what the fake upstream logs as `client`)."""
    out = subprocess.run(["podman", "container", "inspect", "--format",
                          "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out, f"{name} has no address"
    return out[0]


def wait_for(predicate, seconds: float, interval: float = 2.0, what: str = "condition"):
    """Poll until predicate() is truthy (returned), or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds}s waiting for {what}"
        time.sleep(interval)
