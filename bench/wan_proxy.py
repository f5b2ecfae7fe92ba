"""A TCP proxy on 127.0.0.1 that puts the fake upstream's WAN profile between a replica and its hub.

Why: the fake upstream shapes its own answers (tests/fakepypi/wan.py), but a hub is nginx serving
files, and the benchmark must compare a replica syncing from a hub with the same replica syncing
from the upstream over the same network. This proxy charges what the fake charges: every request
is held back one round trip (the fake delays each response's first byte by one), a new
connection `setup_rtts` more, and each connection's answers are paced to `conn_mbit`. Only the
bench uses it; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Shape:
    rtt: float = 0.040
    setup_rtts: int = 2
    conn_mbit: float = 200.0

    @classmethod
    def from_fake(cls, profile: object) -> "Shape":
        """The numbers of a tests.fakepypi WanProfile (the `--wan` preset)."""
        return cls(float(getattr(profile, "rtt")), int(getattr(profile, "setup_rtts")),
                   float(getattr(profile, "conn_mbit")))


class WanProxy:
    """`WanProxy(target_port, shape).start()`; `.url` is where clients connect; `.stop()`."""

    def __init__(self, target_port: int, shape: Shape) -> None:
        self.target = ("127.0.0.1", target_port)
        self.shape = shape
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WanProxy":
        thread = threading.Thread(target=self._accept, name="wan-proxy", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        # Forward each piece at once: Nagle would hold a body behind its headers until an ACK,
        # a delay the real path does not have.
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        setup = self.shape.rtt * self.shape.setup_rtts
        up = threading.Thread(target=self._requests, args=(client, server, setup), daemon=True)
        up.start()
        self._answers(server, client)
        up.join()
        client.close()

    def _requests(self, src: socket.socket, dst: socket.socket, setup: float) -> None:
        """Client -> hub: each request one round trip late (plus the setup on the first)."""
        delay = self.shape.rtt + setup
        try:
            while data := src.recv(CHUNK):
                time.sleep(delay)
                delay = self.shape.rtt
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close_write(dst)

    def _answers(self, src: socket.socket, dst: socket.socket) -> None:
        """Hub -> client, paced to the per-connection bandwidth."""
        rate = self.shape.conn_mbit * 1e6 / 8 if self.shape.conn_mbit else 0.0
        free_at = time.monotonic()
        try:
            while data := src.recv(CHUNK):
                if rate:
                    free_at = max(free_at, time.monotonic()) + len(data) / rate
                    wait = free_at - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close_write(dst)
            src.close()


def _close_write(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


__all__ = ["Shape", "WanProxy"]
