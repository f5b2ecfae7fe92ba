"""`make demo`: a local regional-mirror fleet (a hub and two replicas), converged, synced, used by
pip, and its status table shown last.

Why a script and not a playbook: the demo is what a newcomer runs first, so it must say what it
does at each step, survive being run twice, and end in a table they can read. It drives the same
parts operators use: `scripts/testhosts.sh` (test hosts), `playbooks/site.yml` (the role, hubs
first), the cron line the role installed (the first sync runs exactly as cron would run it, the
hub before its replicas), `playbooks/status.yml` (the fleet table) and real pip.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
INVENTORY = REPO / "inventory" / "local"
CRON_FILE = "/etc/cron.d/pypi-mirror"
UPSTREAM_URL = "http://127.0.0.1:18080"
DEMO_PROJECT = "Foo.Bar"


class DemoError(Exception):
    """A step failed; the message says which and what to look at."""


@dataclass
class MirrorHost:
    """One regional mirror host of the local inventory."""

    name: str
    region: str
    port: int
    hub: bool = False


def step(message: str) -> None:
    """Announce a step so a newcomer sees where time goes."""
    print(f"==> {message}", flush=True)


def run(argv: list[str], *, what: str, capture: bool = False) -> str:
    """Run a command; on failure raise DemoError naming the step instead of a traceback."""
    result = subprocess.run(argv, text=True, capture_output=capture, check=False)
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] if capture else []
        raise DemoError(f"{what} failed (exit {result.returncode}){': ' + detail[0] if detail else ''}")
    return result.stdout if capture else ""


def podman_exec(host: str, command: str, *, what: str) -> str:
    """Run a shell command inside a test host and return its stdout."""
    return run(["podman", "exec", host, "sh", "-c", command], what=what, capture=True)


def mirror_hosts() -> list[MirrorHost]:
    """Mirror hosts and their regions, read from the inventory the playbook uses."""
    listing = json.loads(
        run([str(VENV_BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"],
            what="reading inventory/local", capture=True)
    )
    regions = listing.get("pypi_mirrors", {}).get("children", [])
    hosts: list[MirrorHost] = []
    for region in regions:
        for name in listing.get(region, {}).get("hosts", []):
            hosts.append(MirrorHost(name=name, region=region, port=0))
    ports = {"mirror01.dfw": 18081, "mirror01.gra1": 18082, "mirror01.iad": 18083}
    hubs = set(listing.get("pypi_mirror_hubs", {}).get("hosts", []))
    for host in hosts:
        host.port = ports.get(host.name, 0)
        host.hub = host.name in hubs
    if not hosts:
        raise DemoError("inventory/local lists no hosts in pypi_mirrors")
    return sorted(hosts, key=lambda h: (not h.hub, h.name))  # hubs first: replicas sync from them


def cron_command(host: str) -> tuple[str, str, dict[str, str]]:
    """The sync line of the cron file the role installed: (user, command, environment)."""
    text = podman_exec(host, f"cat {CRON_FILE}", what=f"reading {CRON_FILE} on {host}")
    env: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" in stripped.split()[0] and not stripped[0].isdigit():
            key, _, value = stripped.partition("=")
            env[key.strip()] = value.strip()
            continue
        fields = stripped.split(None, 6)
        if len(fields) == 7 and "pypi-mirror-run" in fields[6]:
            return fields[5], fields[6], env
    raise DemoError(f"{host}: no pypi-mirror-run line in {CRON_FILE} (is pypi_mirror_cron_enabled false?)")


def run_cron_job(host: str) -> int:
    """Run the cron job's command as cron would: same user, same environment, /bin/sh -c."""
    user, command, env = cron_command(host)
    home = podman_exec(host, f"getent passwd {shlex.quote(user)} | cut -d: -f6", what="looking up the user").strip()
    env_args = [f"{k}={v}" for k, v in {"HOME": home or "/", "LOGNAME": user, "SHELL": "/bin/sh", **env}.items()]
    argv = ["podman", "exec", host, "runuser", "-u", user, "--", "env", "-i", *env_args, "/bin/sh", "-c", command]
    return subprocess.run(argv, check=False).returncode


def status(host: str) -> dict:
    """`pypi-mirror status --json` on the host."""
    out = podman_exec(
        host,
        "runuser -u pypi-mirror -- /opt/pypi-mirror/venv/bin/pypi-mirror -c /etc/pypi-mirror.conf status --json",
        what=f"pypi-mirror status on {host}",
    )
    return json.loads(out)


def upstream_serial() -> int:
    """The fake upstream's last serial, from its control API."""
    out = run(["curl", "-fsS", "--max-time", "5", f"{UPSTREAM_URL}/_fake/state"], what="asking the upstream", capture=True)
    return int(json.loads(out)["last_serial"])


def first_sync(hosts: list[MirrorHost]) -> None:
    """Trigger each host's sync through its cron command until the host holds the upstream serial:
    the hub from the upstream, then each replica from the hub."""
    target = upstream_serial()
    for host in hosts:
        source = "the upstream" if host.hub else "the hub"
        for attempt in range(1, 4):
            step(f"{host.name} ({'hub' if host.hub else 'replica'}): first sync from {source} "
                 f"through the cron command (attempt {attempt})")
            code = run_cron_job(host.name)
            serial = int(status(host.name).get("mirror_serial") or 0)
            if code == 0 and serial >= target:
                break
            print(f"    exit {code}, mirror serial {serial}, upstream {target}: "
                  "a scheduled run may hold the lock; retrying", flush=True)
            time.sleep(5)
        else:
            log = podman_exec(host.name, "tail -n 20 /var/log/pypi-mirror/*.log 2>/dev/null || true", what="reading logs")
            raise DemoError(f"{host.name} did not reach upstream serial {target}; last log lines:\n{log}")


def print_status(hosts: list[MirrorHost]) -> None:
    """The fleet table of playbooks/status.yml (what operators run), then where to point pip."""
    step("ansible-playbook playbooks/status.yml -i inventory/local")
    result = subprocess.run([str(VENV_BIN / "ansible-playbook"), "playbooks/status.yml", "-i", str(INVENTORY)],
                            cwd=REPO, text=True, capture_output=True, check=False)
    table = status_table(result.stdout)
    print()
    for line in table or result.stdout.splitlines()[-30:]:
        print(f"  {line}")
    print()
    for host in hosts:
        print(f"  {host.name:<14} {'hub' if host.hub else 'replica':<8} http://127.0.0.1:{host.port}/simple/")
    print(flush=True)
    if result.returncode != 0:
        raise DemoError(f"playbooks/status.yml exited {result.returncode}: the fleet is not in sync")


def status_table(output: str) -> list[str]:
    """The table lines of status.yml's "Print the fleet table" task (a debug msg list)."""
    lines, inside = [], False
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith('"msg": ['):
            inside, lines = True, []
            continue
        if inside:
            if stripped.startswith("]"):
                if any(row.startswith("HOST") for row in lines):
                    return lines
                inside = False
                continue
            lines.append(json.loads(stripped.rstrip(",")))
    return []


def pip_install_from(host: MirrorHost) -> None:
    """A real pip install from one mirror, into a throwaway virtualenv."""
    index = f"http://127.0.0.1:{host.port}/simple/"
    step(f"pip install {DEMO_PROJECT} from {host.name} ({index})")
    with tempfile.TemporaryDirectory(prefix="pypi-mirror-demo-") as tmp:
        run([sys.executable, "-m", "venv", tmp], what="creating a throwaway virtualenv")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        result = subprocess.run(
            [f"{tmp}/bin/pip", "install", "--isolated", "--no-cache-dir", "--disable-pip-version-check",
             "--index-url", index, DEMO_PROJECT],
            env=env, text=True, check=False,
        )
        if result.returncode != 0:
            raise DemoError(f"pip install {DEMO_PROJECT} from {index} failed (exit {result.returncode})")


def main() -> int:
    """Build the fleet, converge it, sync it, use it, show it."""
    try:
        step("base image (debootstrap, reused when present)")
        run(["bash", str(REPO / "scripts" / "build-base-image.sh")], what="building the base image")
        step("test hosts: upstream + mirror01.dfw (hub), mirror01.gra1, mirror01.iad (replicas)")
        run(["bash", str(REPO / "scripts" / "testhosts.sh"), "up"], what="starting the test hosts")
        step("ansible-playbook playbooks/site.yml -i inventory/local")
        run([str(VENV_BIN / "ansible-playbook"), "playbooks/site.yml", "-i", str(INVENTORY)],
            what="ansible-playbook playbooks/site.yml")
        hosts = mirror_hosts()
        first_sync(hosts)
        pip_install_from(hosts[-1])  # from a replica: what the hub synced, the replica serves
        print_status(hosts)  # last: the fleet table is what the demo leaves on screen
        step("done: `make demo-clean` removes the hosts, the network and nothing else")
        return 0
    except DemoError as error:
        print(f"make demo: {error}", file=sys.stderr)
        return 1
    except FileNotFoundError as error:
        print(f"make demo: missing program {error.filename}: run `make host venv` first", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
