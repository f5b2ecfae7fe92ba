"""``python -m tests.fakepypi``: run the fake upstream until SIGTERM / SIGINT.

Prints the base URL (one line, flushed) once listening, so a parent process or a systemd unit
with ``--port 0`` can learn where it is. Exit codes: 0 clean stop (SIGTERM / SIGINT), 1 cannot
listen (one line on stderr), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import FakePyPI
from .wan import OFF, WAN, WanProfile
from .xmlrpc_api import DEFAULT_CHANGELOG_CAP


def _nonneg(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text}")
    return value


def _nonneg_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return value


def add_wan_args(p: argparse.ArgumentParser) -> None:
    """``--wan`` (the preset) and one flag per ``WanProfile`` knob; a knob overrides the preset."""
    g = p.add_argument_group("WAN shaping (off unless --wan or a knob is given)")
    g.add_argument("--wan", action="store_true",
                   help=f"preset: {WAN.rtt * 1000:.0f} ms RTT, {WAN.setup_rtts} setup RTTs (TCP + TLS), "
                        f"{WAN.conn_mbit:.0f} Mbit/s per connection, {WAN.link_mbit:.0f} Mbit/s in all, gzip")
    g.add_argument("--rtt-ms", type=_nonneg_float, default=None, help="round trip: delay before each response")
    g.add_argument("--setup-rtts", type=_nonneg, default=None,
                   help="extra round trips on a new connection's first response (1 TCP, 2 TCP+TLS)")
    g.add_argument("--conn-mbit", type=_nonneg_float, default=None, help="per-connection cap, Mbit/s (0 = none)")
    g.add_argument("--link-mbit", type=_nonneg_float, default=None, help="cap over all connections, Mbit/s (0 = none)")
    g.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=None,
                   help="gzip JSON and XML for clients sending Accept-Encoding: gzip")


def wan_profile(args: argparse.Namespace) -> WanProfile:
    """The profile the flags ask for: the preset (or loopback) with the given knobs replaced."""
    doc: dict = {}
    if args.rtt_ms is not None:
        doc["rtt"] = args.rtt_ms / 1000
    for key in ("setup_rtts", "conn_mbit", "link_mbit", "gzip"):
        if getattr(args, key) is not None:
            doc[key] = getattr(args, key)
    return (WAN if args.wan else OFF).updated(doc)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.fakepypi", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=_nonneg, default=0, help="port, 0 = any free one (default 0)")
    p.add_argument("--public-url", default=None, help="base URL written into file URLs (default: the bound one)")
    p.add_argument("--projects", type=_nonneg, default=8, help="explicit projects, special cases first (8)")
    p.add_argument("--releases", type=_positive, default=3, help="releases per project (3)")
    p.add_argument("--files", type=_positive, default=2, help="files per release: wheel, sdist, platform wheels (2)")
    p.add_argument("--file-size", type=_nonneg, default=2048, help="target bytes per file (2048)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (0)")
    p.add_argument("--index-projects", type=_nonneg, default=0,
                   help="pad the index with lazy projects up to this total (e.g. 700000)")
    p.add_argument("--changelog-cap", type=_nonneg, default=DEFAULT_CHANGELOG_CAP,
                   help=f"max rows per changelog_since_serial call ({DEFAULT_CHANGELOG_CAP})")
    p.add_argument("--purge-mode", choices=["auth", "open"], default="auth", help="PURGE handling (auth)")
    p.add_argument("--purge-key", default=None, help="Fastly-Key accepted in auth mode (none: always 401)")
    p.add_argument("--no-core-metadata", action="store_true", help="no PEP 658/714 metadata (older upstream)")
    p.add_argument("--no-simple-json", action="store_true", help="never serve PEP 691 JSON (HTML-only upstream)")
    p.add_argument("--xmlrpc", choices=["on", "fault", "404"], default="on", help="XML-RPC mode (on)")
    p.add_argument("--xmlrpc-rate-limit", type=_nonneg, default=0, help="XML-RPC calls per window per client, 0 = off")
    p.add_argument("--xmlrpc-rate-window", type=float, default=60.0, help="rate-limit window in seconds (60)")
    add_wan_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = FakePyPI(
        host=args.host, port=args.port, projects=args.projects, releases=args.releases, files=args.files,
        file_size=args.file_size, seed=args.seed, index_projects=args.index_projects,
        changelog_cap=args.changelog_cap, purge_mode=args.purge_mode, purge_key=args.purge_key,
        core_metadata=not args.no_core_metadata, xmlrpc=args.xmlrpc,
        xmlrpc_rate_limit=args.xmlrpc_rate_limit or None, xmlrpc_rate_window=args.xmlrpc_rate_window,
        public_url=args.public_url, simple_json=not args.no_simple_json, wan=wan_profile(args),
    )
    try:
        app.start()
    except OSError as exc:
        print(f"fakepypi: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(app.base_url, flush=True)
    while not stop.wait(1.0):
        pass
    app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
