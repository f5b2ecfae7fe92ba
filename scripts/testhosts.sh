#!/usr/bin/env bash
# The one place that creates and destroys the test hosts (molecule's create/destroy and `make demo`).
#
#   scripts/testhosts.sh up [FAKEPYPI_ARGS...]   network + upstream + three mirror hosts (idempotent;
#                                                fake upstream args default: --purge-mode open)
#   scripts/testhosts.sh down                    remove them (idempotent)
#   scripts/testhosts.sh status                  one line per host; exit 1 if any is not running
#   scripts/testhosts.sh upstream-args [ARGS...] restart the fake upstream with other corpus options
#
# Hosts: podman containers with systemd as PID 1 (runc) on a user-defined network, so they reach
# each other by name (aardvark-dns):
#   upstream       tests/fakepypi as a systemd service on :8080     -> 127.0.0.1:18080
#   mirror01.dfw   \                                                 -> 127.0.0.1:18081
#   mirror01.gra1   > bare hosts for the role; nginx :80 published   -> 127.0.0.1:18082
#   mirror01.iad   /                                                 -> 127.0.0.1:18083
# Ansible and testinfra reach them with `podman exec` (ansible: containers.podman.podman).
# Env: BASE_IMAGE, TESTHOSTS_NETWORK, TESTHOSTS_PORT_BASE (18080), TESTHOSTS_WAIT (s, 90).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${BASE_IMAGE:-localhost/pypi-mirror-base:bookworm}
NETWORK=${TESTHOSTS_NETWORK:-pypi-mirror-test}
PORT_BASE=${TESTHOSTS_PORT_BASE:-18080}
WAIT=${TESTHOSTS_WAIT:-90}
UPSTREAM=upstream
MIRRORS=(mirror01.dfw mirror01.gra1 mirror01.iad)
LABEL=pypi-mirror.testhost=1

log() { printf 'testhosts: %s\n' "$*"; }
die() { printf 'testhosts: ERROR: %s\n' "$*" >&2; exit 1; }

all_hosts() { printf '%s\n' "$UPSTREAM" "${MIRRORS[@]}"; }
port_of() {  # host name -> published 127.0.0.1 port
  local i=0 h
  for h in $(all_hosts); do [[ $h == "$1" ]] && { echo $((PORT_BASE + i)); return; }; i=$((i + 1)); done
  die "unknown host $1"
}
running() { [[ $(podman container inspect --format '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }

ensure_network() {
  podman network exists "$NETWORK" && return
  log "creating network $NETWORK (DNS by container name)"
  podman network create --label "$LABEL" "$NETWORK" >/dev/null
}

# Start one host unless it already runs from the current image; systemd is PID 1.
ensure_host() {
  local name=$1 cport=$2 image_id have
  image_id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
  if running "$name"; then
    have=$(podman container inspect --format '{{.Image}}' "$name")
    [[ $have == "$image_id" ]] && { log "$name already running"; return 1; }
    log "$name runs an older image: recreating"
  fi
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  log "starting $name (127.0.0.1:$(port_of "$name") -> $cport)"
  # AUDIT_CONTROL/AUDIT_WRITE: pam_loginuid in cron's PAM stack, else cron jobs never start.
  podman run -d --name "$name" --hostname "$name" --label "$LABEL" \
    --network "$NETWORK" --network-alias "$name" --runtime runc --systemd always \
    --cap-add AUDIT_CONTROL --cap-add AUDIT_WRITE \
    -p "127.0.0.1:$(port_of "$name"):$cport" \
    "$IMAGE" /sbin/init >/dev/null || die "podman run $name failed"
  return 0
}

wait_systemd() {  # until systemd finished booting (running or degraded), bounded
  local name=$1 state deadline=$((SECONDS + WAIT))
  while :; do
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) return 0 ;; esac
    ((SECONDS < deadline)) || die "$name: systemd not up after ${WAIT}s (state '$state')"
    sleep 0.5
  done
}

# Default corpus options of the fake upstream; `up ARGS` / `upstream-args ARGS` replace them.
# open: PURGE without a key succeeds (inventory/local sets no key); tests switch modes at runtime
# through the control API (POST /_fake/purge-mode).
DEFAULT_FAKEPYPI_ARGS="--purge-mode open"

# Fingerprint of the fake upstream's code and arguments: `up` reinstalls it when either changed.
upstream_stamp() {
  { (cd "$REPO" && find tests/__init__.py tests/fakepypi -name '*.py' -print0 | sort -z | xargs -0 sha256sum)
    printf 'args: %s\n' "$*"; } | sha256sum | cut -c1-64
}

install_upstream() {  # copy tests/fakepypi in and run it as a service
  local args=${*:-$DEFAULT_FAKEPYPI_ARGS}
  [[ -d $REPO/tests/fakepypi ]] || die "$REPO/tests/fakepypi missing"
  log "installing tests/fakepypi as fakepypi.service in $UPSTREAM ($args)"
  podman exec "$UPSTREAM" sh -c 'rm -rf /opt/fakepypi && mkdir -p /opt/fakepypi/tests'
  tar -C "$REPO" --exclude=__pycache__ -c tests/__init__.py tests/fakepypi \
    | podman exec -i "$UPSTREAM" tar -x -C /opt/fakepypi
  upstream_stamp "$args" | podman exec -i "$UPSTREAM" sh -c 'cat >/opt/fakepypi/.stamp'
  podman exec -i "$UPSTREAM" sh -c 'cat >/etc/systemd/system/fakepypi.service' <<UNIT
[Unit]
Description=Fake PyPI upstream for the pypi_mirror tests (tests/fakepypi)
After=network.target

[Service]
WorkingDirectory=/opt/fakepypi
Environment=PYTHONUNBUFFERED=1
ExecStart=/usr/bin/python3 -m tests.fakepypi --host 0.0.0.0 --port 8080 --public-url http://$UPSTREAM:8080 $args
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
  podman exec "$UPSTREAM" sh -c 'systemctl disable --now nginx.service >/dev/null 2>&1; systemctl daemon-reload && systemctl enable fakepypi.service >/dev/null 2>&1 && systemctl restart fakepypi.service' \
    || die "fakepypi.service did not start"
}

wait_http() {  # url -> until it answers 200, bounded
  local url=$1 deadline=$((SECONDS + WAIT))
  until curl --noproxy '*' -fsS -o /dev/null --max-time 3 "$url" 2>/dev/null; do
    if ((SECONDS >= deadline)) || podman exec "$UPSTREAM" systemctl is-failed -q fakepypi.service; then
      podman exec "$UPSTREAM" journalctl -u fakepypi.service --no-pager -n 20 >&2 || true
      die "$url does not answer (fakepypi.service failed or ${WAIT}s passed)"
    fi
    sleep 0.3
  done
}

cmd_up() {
  [[ $(id -u) -eq 0 ]] || die "run as root (rootful podman, like the rest of the test setup)"
  podman image exists "$IMAGE" || die "image $IMAGE missing: run scripts/build-base-image.sh"
  ensure_network
  local started=() h
  ensure_host "$UPSTREAM" 8080 && started+=("$UPSTREAM")
  for h in "${MIRRORS[@]}"; do ensure_host "$h" 80 && started+=("$h"); done
  for h in $(all_hosts); do wait_systemd "$h"; done
  # earlier builds of the base image that no container uses any more
  podman image prune -f --filter "label=pypi-mirror.base.script-sha256" >/dev/null 2>&1 || true
  local want have
  want=$(upstream_stamp "${*:-$DEFAULT_FAKEPYPI_ARGS}")
  have=$(podman exec "$UPSTREAM" cat /opt/fakepypi/.stamp 2>/dev/null || true)
  if [[ $want != "$have" ]] || ! podman exec "$UPSTREAM" systemctl is-active -q fakepypi.service; then
    install_upstream "$@"
  else
    log "fakepypi.service already current in $UPSTREAM"
  fi
  wait_http "http://127.0.0.1:$(port_of "$UPSTREAM")/simple/"
  # container-to-container by name, the way the mirrors will reach it
  podman exec "${MIRRORS[0]}" curl --noproxy '*' -fsS -o /dev/null --max-time 5 "http://$UPSTREAM:8080/simple/" \
    || die "${MIRRORS[0]} cannot reach http://$UPSTREAM:8080/simple/ (network DNS?)"
  log "up: upstream http://$UPSTREAM:8080/ (host: http://127.0.0.1:$(port_of "$UPSTREAM")/)"
  for h in "${MIRRORS[@]}"; do log "up: $h nginx at http://127.0.0.1:$(port_of "$h")/"; done
}

cmd_down() {
  local h
  for h in $(all_hosts); do
    podman container exists "$h" && { log "removing $h"; podman rm -f -t 0 "$h" >/dev/null; }
  done
  podman network exists "$NETWORK" && { log "removing network $NETWORK"; podman network rm "$NETWORK" >/dev/null; }
  log "down"
}

cmd_status() {
  local h rc=0 state
  for h in $(all_hosts); do
    if running "$h"; then
      state=$(podman exec "$h" systemctl is-system-running 2>/dev/null || true)
      printf '%-14s running  systemd=%-9s 127.0.0.1:%s\n' "$h" "$state" "$(port_of "$h")"
    else
      printf '%-14s absent/stopped\n' "$h"; rc=1
    fi
  done
  return $rc
}

cmd_upstream_args() {
  running "$UPSTREAM" || die "$UPSTREAM is not running: scripts/testhosts.sh up"
  install_upstream "$@"
  wait_http "http://127.0.0.1:$(port_of "$UPSTREAM")/simple/"
  log "upstream restarted with: $*"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  upstream-args) shift; cmd_upstream_args "$@" ;;
  *) die "usage: $0 up [FAKEPYPI_ARGS...] | down | status | upstream-args [ARGS...]" ;;
esac
