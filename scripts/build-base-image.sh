#!/usr/bin/env bash
# Build the test hosts' base image: Debian bookworm (debootstrap minbase) with systemd as init and
# every package the pypi_mirror role installs baked in, so converge needs no network.
#
# Why debootstrap + `podman import`: there is no image registry on the test machines.
# Reuse: the image carries the sha256 of this script as a label; it is rebuilt only when the
# script (package list, tweaks) changed or with --force.
#
# Usage: scripts/build-base-image.sh [--force]
# Env:   BASE_IMAGE (default localhost/pypi-mirror-base:bookworm)
#        DEBIAN_MIRROR (default: the first bookworm URI in this machine's apt sources)
set -euo pipefail

IMAGE=${BASE_IMAGE:-localhost/pypi-mirror-base:bookworm}
SUITE=bookworm
LABEL=pypi-mirror.base.script-sha256
# systemd/init for PID 1; python3(-apt) for ansible; the role's packages (pypi_mirror_packages,
# nginx-light); tools the tests use.
INCLUDE=(systemd systemd-sysv dbus python3 python3-venv python3-apt python3-packaging ca-certificates sudo
         nginx-light cron logrotate util-linux procps iproute2 curl)
CACHE_DIR=/var/cache/pypi-mirror-base/debs   # debootstrap's .deb cache, speeds up rebuilds

log() { printf 'build-base-image: %s\n' "$*"; }
die() { printf 'build-base-image: ERROR: %s\n' "$*" >&2; exit 1; }

force=0
case "${1:-}" in --force) force=1 ;; "") ;; *) die "unknown argument '$1' (usage: $0 [--force])" ;; esac
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/setup-host.sh"
command -v podman >/dev/null || die "podman missing: run scripts/setup-host.sh"

self_hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-64)
if ((!force)) && podman image exists "$IMAGE"; then
  have=$(podman image inspect --format "{{ index .Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
  if [[ $have == "$self_hash" ]]; then
    log "$IMAGE is up to date (script sha256 ${self_hash:0:12}); nothing to do"
    exit 0
  fi
  log "$IMAGE was built by another version of this script (${have:0:12} != ${self_hash:0:12}): rebuilding"
fi

# The Debian mirror: from the machine's own apt configuration (deb822 .sources or one-line lists).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # deb822 stanzas: print the URI of a stanza whose Suites has exactly "bookworm"
    awk -v suite="$SUITE" '
      BEGIN { RS=""; FS="\n" }
      { uri=""; ok=0; en=1
        for (i=1;i<=NF;i++) {
          if ($i ~ /^URIs:/)    { split($i,a,/[ \t]+/); uri=a[2] }
          if ($i ~ /^Suites:/)  { n=split($i,s,/[ \t]+/); for (j=2;j<=n;j++) if (s[j]==suite) ok=1 }
          if ($i ~ /^Enabled:[ \t]*no/) en=0
        }
        if (ok && en && uri != "") { print uri; exit } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk -v suite="$SUITE" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                                        if ($(i+1)==suite) { print $i; exit } }' "$f"
  done
}
MIRROR=${DEBIAN_MIRROR:-$(debian_mirror | head -n1)}
[[ -n $MIRROR ]] || die "no '$SUITE' source found in /etc/apt/sources.list*; set DEBIAN_MIRROR=<url>"
log "Debian mirror (from apt sources): $MIRROR"

work=$(mktemp -d /var/tmp/pypi-mirror-base.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/rootfs
mkdir -p "$CACHE_DIR"

log "debootstrap $SUITE minbase with: ${INCLUDE[*]}"
t0=$SECONDS
debootstrap --variant=minbase --cache-dir="$CACHE_DIR" --include="$(IFS=,; echo "${INCLUDE[*]}")" \
  "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
log "debootstrap took $((SECONDS - t0)) s"

# Container tweaks: systemd generates a machine-id at boot; podman sets the hostname; no timers
# that would hit the network or disturb tests; keep the apt lists (the apt module needs them).
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root/etc/hostname"
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
            fstrim.timer systemd-timesyncd.service getty@tty1.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
printf 'LANG=C.UTF-8\n' >"$root/etc/default/locale"
# /run/lock is 1777 on a real Debian 12 host (systemd mounts it so); in a podman systemd container
# it comes up 1755, and the cron line's `flock /run/lock/...` runs as the unprivileged mirror user.
printf 'd /run/lock 1777 root root -\n' >"$root/etc/tmpfiles.d/run-lock.conf"
rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin

old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
log "importing into podman as $IMAGE"
t0=$SECONDS
tar --numeric-owner --xattrs -C "$root" -c . \
  | podman import --quiet \
      --change 'CMD ["/sbin/init"]' \
      --change 'STOPSIGNAL SIGRTMIN+3' \
      --change "LABEL $LABEL=$self_hash" \
      --message "pypi-mirror base ($SUITE minbase + ${INCLUDE[*]})" \
      - "$IMAGE" >/dev/null \
  || die "podman import failed"
log "import took $((SECONDS - t0)) s; $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"
# drop the previous build unless a container still uses it (testhosts.sh up recreates those)
[[ -n $old_id ]] && podman rmi "$old_id" >/dev/null 2>&1 && log "removed previous image ${old_id:0:12}"
exit 0
