"""The fastest any client could do a scenario's work over the bench's WAN profile.

limit = max(bytes / rate, (setup + ceil(requests / concurrency)) x RTT): the bytes a run needs
cannot arrive faster than the link carries them, and requests cannot complete faster than one
round trip each on ``concurrency`` connections, after the round trips that open a connection
(TCP, TLS: the connections open in parallel, so once). Issue 14 writes requests x RTT /
concurrency; the ceiling and the setup only matter for runs of a few requests (a no-op's one
call still costs a new https connection and a round trip: 3 RTT). ``rate`` is the smaller of the
link cap and ``concurrency`` times the per-connection cap (three workers at 200 Mbit/s each cannot
fill a 1 Gbit/s link). The work is the smaller of the two tools' counts in the same scenario:
what one of them showed is enough. Server time and the client's own CPU are not in it, so no
client reaches the limit; how close each gets is the point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Wan:
    """The WAN profile the fake applied during the timed runs (as ``/_fake/wan`` reports it)."""

    rtt: float
    setup_rtts: int
    conn_mbit: float
    link_mbit: float
    gzip: bool

    @classmethod
    def from_doc(cls, doc: dict) -> "Wan":
        return cls(float(doc["rtt"]), int(doc["setup_rtts"]), float(doc["conn_mbit"]),
                   float(doc["link_mbit"]), bool(doc["gzip"]))

    def rate(self, concurrency: int) -> float | None:
        """Bytes per second ``concurrency`` connections can get together; None = unlimited."""
        caps = [c for c in (self.link_mbit, self.conn_mbit * concurrency if self.conn_mbit else 0) if c > 0]
        return min(caps) * 1e6 / 8 if caps else None

    def describe(self) -> str:
        def cap(mbit: float) -> str:
            return f"{mbit:g} Mbit/s" if mbit else "uncapped"

        return (f"RTT {self.rtt * 1000:g} ms (time to first byte), +{self.setup_rtts} RTT per new "
                f"connection (TCP{' + TLS' if self.setup_rtts >= 2 else ''}), {cap(self.conn_mbit)} per "
                f"connection, {cap(self.link_mbit)} in all, gzip for JSON/XML {'on' if self.gzip else 'off'}")


@dataclass(frozen=True)
class Limit:
    seconds: float
    bound: str  # "latency" or "bandwidth": which term of the max decided it
    bytes: int
    requests: int


def limit(wan: Wan, nbytes: int, requests: int, concurrency: int) -> Limit:
    rate = wan.rate(concurrency)
    by_bytes = nbytes / rate if rate else 0.0
    by_latency = (wan.setup_rtts + math.ceil(requests / max(1, concurrency))) * wan.rtt if requests else 0.0
    if by_bytes > by_latency:
        return Limit(by_bytes, "bandwidth", nbytes, requests)
    return Limit(by_latency, "latency", nbytes, requests)
