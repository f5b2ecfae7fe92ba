#!/usr/bin/env bash
# The objectstore scenario's hosts: podman containers with systemd as PID 1 on a network of their
# own, so they reach each other by name:
#   objstore-swift     Swift all-in-one (:8080, scripts/swift_aio.py --systemd) and the fake upstream (:8081)
#   objstore-mirror1   \ bare hosts for the role (storage-backend = s3); nginx on :80 inside
#   objstore-mirror2   /
# Nothing is published on this machine's ports: Ansible and testinfra use `podman exec`.
#
#   hosts.sh up | down
#
# The Swift host runs an image of its own, the base image plus Swift's Debian packages, built
# once per base image and reused: apt-get inside a fresh container took 36 s per run here, and
# debootstrap cannot take the packages into the base image itself (python3-pycparser fails to
# configure in its first stage). The distribution's own Swift and memcached units are masked in
# it; swift_aio.py --systemd writes units of its own.
set -euo pipefail

BASE=${BASE_IMAGE:-localhost/pypi-mirror-base:bookworm}
IMAGE=localhost/pypi-mirror-objstore-swift:bookworm
NETWORK=pypi-mirror-objstore
SWIFT=objstore-swift
MIRRORS=(objstore-mirror1 objstore-mirror2)
LABEL=pypi-mirror.objstore=1
PACKAGES="swift-proxy swift-object swift-container swift-account memcached"
WAIT=${TESTHOSTS_WAIT:-90}

log() { printf 'objstore-hosts: %s\n' "$*"; }
die() { printf 'objstore-hosts: ERROR: %s\n' "$*" >&2; exit 1; }

swift_image() {  # the base image plus Swift's packages, rebuilt when the base image changed
  local base_id have builder=objstore-image-build
  base_id=$(podman image inspect --format '{{.Id}}' "$BASE") || die "image $BASE missing"
  have=$(podman image inspect --format '{{ index .Labels "pypi-mirror.objstore.base" }}' "$IMAGE" 2>/dev/null || true)
  [[ $have == "$base_id:$PACKAGES" ]] && return 0
  log "building $IMAGE (base + $PACKAGES)"
  podman rm -f -t 0 "$builder" >/dev/null 2>&1 || true
  podman run -d --name "$builder" --runtime runc "$BASE" sleep infinity >/dev/null
  # shellcheck disable=SC2016
  podman exec "$builder" sh -c 'export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends '"$PACKAGES"' >/dev/null || exit 1
    for unit in /lib/systemd/system/swift*.service /lib/systemd/system/memcached.service; do
      [ -e "$unit" ] && ln -sf /dev/null "/etc/systemd/system/$(basename "$unit")"
    done
    apt-get clean; rm -rf /var/lib/apt/lists/*' || { podman rm -f -t 0 "$builder" >/dev/null; die "apt-get in $builder failed"; }
  podman stop -t 0 "$builder" >/dev/null
  podman commit --quiet --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL pypi-mirror.objstore.base=$base_id:$PACKAGES" "$builder" "$IMAGE" >/dev/null
  podman rm -f -t 0 "$builder" >/dev/null
}

start() {  # name image
  local name=$1 image=$2
  if [[ $(podman container inspect --format '{{.State.Running}}' "$name" 2>/dev/null) == true ]]; then
    log "$name already running"; return 0
  fi
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  log "starting $name"
  podman run -d --name "$name" --hostname "$name" --label "$LABEL" --network "$NETWORK" --network-alias "$name" \
    --runtime runc --systemd always --cap-add AUDIT_CONTROL --cap-add AUDIT_WRITE "$image" /sbin/init >/dev/null \
    || die "podman run $name failed"
}

wait_systemd() {
  local name=$1 state deadline=$((SECONDS + WAIT))
  while :; do
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) return 0 ;; esac
    ((SECONDS < deadline)) || die "$name: systemd not up after ${WAIT}s (state '$state')"
    sleep 0.5
  done
}

case "${1:-}" in
  up)
    [[ $(id -u) -eq 0 ]] || die "run as root (rootful podman)"
    swift_image
    podman network exists "$NETWORK" || podman network create --label "$LABEL" "$NETWORK" >/dev/null
    start "$SWIFT" "$IMAGE"
    for h in "${MIRRORS[@]}"; do start "$h" "$BASE"; done
    for h in "$SWIFT" "${MIRRORS[@]}"; do wait_systemd "$h"; done
    log "up"
    ;;
  down)
    for h in "$SWIFT" "${MIRRORS[@]}"; do
      podman container exists "$h" && { log "removing $h"; podman rm -f -t 0 "$h" >/dev/null; }
    done
    podman network exists "$NETWORK" && { log "removing network $NETWORK"; podman network rm "$NETWORK" >/dev/null; }
    log "down"
    ;;
  *) die "usage: $0 up | down" ;;
esac
