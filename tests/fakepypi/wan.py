"""WAN shaping inside the server: round trips, connection setup and bandwidth caps.

Why in the server: a mirror talks to a CDN tens of milliseconds away, and on loopback every
request is free, so a client that makes many small sequential requests looks as fast as one that
overlaps them. Kernel shaping (netem) is not available on the machines that run the benches, so
the fake charges the costs itself:

- every response's first byte leaves ``rtt`` seconds after the request arrived (time to first
  byte = one round trip; the server's own work comes on top);
- the first request on a new connection waits ``setup_rtts`` round trips more (1 = the TCP
  handshake, 2 = TCP + TLS, as an https upstream costs; the fake itself speaks plain HTTP);
- bytes leave at most at ``conn_mbit`` per connection and ``link_mbit`` over all connections
  (0 = no cap); writes are paced in small slices, so concurrent connections share the link.

Content encoding (gzip for JSON and XML) lives in ``gzip_encoding.py``; this module only delays.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import BinaryIO

#: How far a pacer may fall behind and catch up in a burst (sleeps overshoot by ~0.1 ms each).
SLACK_S = 0.002
#: Bytes per paced slice: about this much transmission time, within MIN/MAX_SLICE.
SLICE_S = 0.002
MIN_SLICE = 4 * 1024
MAX_SLICE = 256 * 1024


@dataclass(frozen=True)
class WanProfile:
    """What the network between client and upstream costs. All zero = loopback (the default)."""

    rtt: float = 0.0  # seconds per round trip
    setup_rtts: int = 0  # extra round trips before a new connection's first response
    conn_mbit: float = 0.0  # per-connection cap in Mbit/s (0 = none)
    link_mbit: float = 0.0  # cap over all connections in Mbit/s (0 = none)
    gzip: bool = False  # gzip JSON and XML bodies for clients that accept it

    def __post_init__(self) -> None:
        if self.rtt < 0 or self.setup_rtts < 0 or self.conn_mbit < 0 or self.link_mbit < 0:
            raise ValueError(f"WAN settings must be >= 0: {self}")

    @property
    def shaped(self) -> bool:
        """True when any delay or cap applies (gzip alone changes no timing)."""
        return bool(self.rtt or self.conn_mbit or self.link_mbit)

    def first_byte_delay(self, new_connection: bool) -> float:
        """Seconds before a response's first byte: one round trip, plus setup on a new connection."""
        return self.rtt * (1 + (self.setup_rtts if new_connection else 0))

    def as_dict(self) -> dict:
        return asdict(self)

    def updated(self, doc: dict) -> "WanProfile":
        """A copy with the keys of ``doc`` changed (the control API's ``/_fake/wan``)."""
        unknown = set(doc) - set(asdict(self))
        if unknown:
            raise ValueError(f"unknown WAN setting(s): {', '.join(sorted(unknown))}")
        types = {"rtt": float, "setup_rtts": int, "conn_mbit": float, "link_mbit": float, "gzip": bool}
        return replace(self, **{k: types[k](v) for k, v in doc.items()})


OFF = WanProfile()
#: The profile ``--wan`` turns on: a CDN 40 ms away over https, 200 Mbit/s per connection, 1 Gbit/s in all.
WAN = WanProfile(rtt=0.040, setup_rtts=2, conn_mbit=200.0, link_mbit=1000.0, gzip=True)


class Pacer:
    """A pipe of a given rate: ``reserve(n)`` says when ``n`` more bytes will have gone through.

    Reservations queue up (first come, first served), which is how one link shared by several
    connections divides its rate among them over any stretch longer than a slice.
    """

    def __init__(self) -> None:
        self._free_at = 0.0
        self._lock = threading.Lock()

    def reserve(self, nbytes: int, mbit: float, now: float) -> float:
        if mbit <= 0:
            return now
        with self._lock:
            start = max(self._free_at, now - SLACK_S)
            self._free_at = start + nbytes * 8 / (mbit * 1e6)
            return self._free_at


class Shaper:
    """The server-wide state of the shaping: the current profile and the shared link."""

    def __init__(self, profile: WanProfile = OFF) -> None:
        self.profile = profile
        self.link = Pacer()

    def writer(self, raw: BinaryIO) -> "PacedWriter":
        return PacedWriter(raw, self)


class PacedWriter:
    """A connection's ``wfile`` that releases bytes no faster than its and the link's caps allow.

    The profile is read on every write, so a change through the control API applies to open
    connections from their next write on.
    """

    def __init__(self, raw: BinaryIO, shaper: Shaper) -> None:
        self.raw = raw
        self.shaper = shaper
        self.conn = Pacer()

    def write(self, data: bytes) -> int:
        profile = self.shaper.profile
        if not (profile.conn_mbit or profile.link_mbit):
            return self.raw.write(data)
        rate = min(r for r in (profile.conn_mbit, profile.link_mbit) if r > 0)
        step = int(min(MAX_SLICE, max(MIN_SLICE, rate * 1e6 / 8 * SLICE_S)))
        view = memoryview(data)
        for pos in range(0, len(view), step):
            part = view[pos : pos + step]
            now = time.monotonic()
            done = max(self.conn.reserve(len(part), profile.conn_mbit, now),
                       self.shaper.link.reserve(len(part), profile.link_mbit, now))
            if done > now:
                time.sleep(done - now)
            self.raw.write(part)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed
