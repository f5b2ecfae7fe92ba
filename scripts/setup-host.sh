#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine (as root) to run the molecule scenario and the demo hosts.
#
# Why: the test hosts are podman containers with systemd as PID 1. On this kind of machine crun
# fails on hybrid cgroups and runc fails on podman's default rlimits, so podman needs runc and
# lowered default ulimits; container-to-container DNS needs the netavark backend + aardvark-dns,
# and netavark needs the iptables binary (not pulled in by podman on bookworm).
# Idempotent: installs only missing packages and rewrites only the settings it manages.
set -euo pipefail

CONF=/etc/containers/containers.conf
PACKAGES=(podman runc conmon netavark aardvark-dns iptables uidmap slirp4netns debootstrap
          debian-archive-keyring ca-certificates nginx-light logrotate cron make tinyproxy
          python3 python3-venv python3-pip git curl)

log() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and writes $CONF)"
. /etc/os-release 2>/dev/null || die "cannot read /etc/os-release"
[[ ${ID:-} == debian && ${VERSION_ID:-} == 12 ]] || die "needs Debian 12 (bookworm), found ${PRETTY_NAME:-unknown}"

# 1. packages ---------------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed (check /etc/apt/sources.list*)"
  # nginx-light conflicts with nothing on bookworm (it is a metapackage over nginx); no recommends
  # keeps the machine small.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
else
  log "packages already installed: ${PACKAGES[*]}"
fi

# 1b. packages that ship system services ------------------------------------------------------
# OpenStack Swift (the object store the storage tests run against) and memcached (its token
# cache) are started by scripts/swift-aio.sh as our own processes with their own configuration;
# prometheus is here only for `promtool test rules` (the role's alert rules), never as a server.
# Their Debian postinst scripts (and that of rsyslog, which swift pulls in) would start the
# distribution's instances (ports 6200-6202, 8080, 11211) on this shared machine, so they are installed with service starts denied by a temporary
# policy-rc.d and, on a systemd machine, left disabled.
SERVICE_PACKAGES=(swift swift-proxy swift-object swift-container swift-account memcached prometheus)
missing=()
for p in "${SERVICE_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing without starting their services: ${missing[*]}"
  policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    own_policy=1
    printf '#!/bin/sh\n# setup-host.sh: deny service starts while it installs packages\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed (check /etc/apt/sources.list*)"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
  if ((own_policy)); then rm -f "$policy"; trap - EXIT; fi
  if [[ -d /run/systemd/system ]]; then
    mapfile -t units < <(dpkg-query -L "${SERVICE_PACKAGES[@]}" 2>/dev/null \
                         | grep -E '^/lib/systemd/system/[^@]+\.service$' | xargs -r -n1 basename)
    ((${#units[@]})) && systemctl disable --quiet "${units[@]}" 2>/dev/null || true
  fi
else
  log "packages already installed: ${SERVICE_PACKAGES[*]}"
fi

# 2. containers.conf --------------------------------------------------------------------------
# Keys we manage, as "section|key|toml value". Other content of the file is kept.
SETTINGS=(
  'engine|runtime|"runc"'
  'containers|default_ulimits|["nofile=20000:20000", "nproc=4096:4096"]'
  'network|network_backend|"netavark"'
)
mkdir -p /etc/containers
[[ -f $CONF ]] || { log "creating $CONF"; printf '# podman settings (see containers.conf(5))\n' >"$CONF"; }
changed=$(python3 - "$CONF" "${SETTINGS[@]}" <<'PY'
"""Set key = value inside [section] of a TOML file, line based, keeping everything else."""
import re, sys
path, settings = sys.argv[1], [s.split("|", 2) for s in sys.argv[2:]]
lines = open(path, encoding="utf-8").read().splitlines()
changed = []
for section, key, value in settings:
    want = f"{key} = {value}"
    start = next((i for i, l in enumerate(lines) if l.strip() == f"[{section}]"), None)
    if start is None:
        lines += ["", f"[{section}]", want]
        changed.append(f"[{section}] {want}")
        continue
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"\s*\[", lines[i])), len(lines))
    hit = next((i for i in range(start + 1, end) if re.match(rf"\s*{re.escape(key)}\s*=", lines[i])), None)
    if hit is None:
        lines.insert(start + 1, want)
        changed.append(f"[{section}] {want}")
    elif lines[hit].strip() != want:
        lines[hit] = want
        changed.append(f"[{section}] {want}")
if changed:
    open(path, "w", encoding="utf-8").write("\n".join(lines) + "\n")
print("; ".join(changed))
PY
) || die "could not update $CONF"
if [[ -n $changed ]]; then log "$CONF: set $changed"; else log "$CONF already configured"; fi

# 3. checks -----------------------------------------------------------------------------------
backend=$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null) || die "podman info failed"
runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)
[[ $runtime == runc ]] || die "podman uses runtime '$runtime', expected runc (see $CONF)"
if [[ $backend != netavark ]]; then
  die "podman network backend is '$backend'; existing CNI containers/networks pin it. Remove them (podman system reset) and re-run"
fi
log "podman $(podman version --format '{{.Client.Version}}'): runtime=$runtime network=$backend"
log "done"
