"""Warehouse's XML-RPC surface as mirrors use it (``POST /pypi``).

Only the three mirroring methods work; the others answer the faults Warehouse gives today, so
clients' fallback paths (fault -> index diff) can be tested. ``mode`` switches the whole API:
``on``, ``fault`` (every call faults) or ``404`` (the endpoint is gone). ``lag`` makes the change
feed answer as of an older serial (a lagging replica or CDN node, or an upstream restored from a
backup), for the next N calls or until cleared.
"""

from __future__ import annotations

import math
import threading
import time
import xmlrpc.client
from typing import Any, Iterator
from xml.sax.saxutils import escape

from .store import Store

DISABLED = {
    "changelog", "package_releases", "release_urls", "list_packages", "release_data", "search",
    "package_data", "package_urls", "package_roles", "user_packages", "browse", "updated_releases",
    "changed_packages", "top_packages", "release_downloads", "package_hosting_mode",
}
MODES = ("on", "fault", "404")
DEFAULT_CHANGELOG_CAP = 50_000


class XmlRpcFault(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RateLimiter:
    """Fixed-window request counter per client address (Warehouse limits per IP)."""

    def __init__(self) -> None:
        self.limit: int | None = None
        self.window = 60.0
        self._hits: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        if not self.limit:
            return
        now = time.monotonic()
        with self._lock:
            start, count = self._hits.get(client, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            count += 1
            self._hits[client] = (start, count)
        if count > self.limit:
            reset = max(1, math.ceil(self.window - (now - start)))
            raise XmlRpcFault(
                -32500,
                "HTTPTooManyRequests: The action could not be performed because there were too many "
                f"requests by the client. Limit may reset in {reset} seconds.",
            )

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class XmlRpcApi:
    def __init__(self, store: Store, *, mode: str = "on", changelog_cap: int = DEFAULT_CHANGELOG_CAP) -> None:
        if mode not in MODES:
            raise ValueError(f"xmlrpc mode must be one of {MODES}, not {mode!r}")
        self.store = store
        self.mode = mode
        self.changelog_cap = changelog_cap
        self.rate = RateLimiter()
        self.calls: list[tuple[str, str]] = []  # (client, method) for tests; bounded below
        self._lag: tuple[int, int | None] | None = None  # (answer as of this serial, calls left or None)
        self._lag_lock = threading.Lock()

    def set_lag(self, serial: int | None, calls: int | None = None) -> None:
        """Answer the change feed as of `serial` for the next `calls` feed calls (None: until
        cleared); `serial` None clears it."""
        with self._lag_lock:
            self._lag = None if serial is None else (int(serial), None if calls is None else int(calls))

    def _as_of(self) -> int | None:
        """The serial this feed call answers as of (None: the current one); counts the call."""
        with self._lag_lock:
            if self._lag is None:
                return None
            serial, left = self._lag
            if left is not None:
                self._lag = (serial, left - 1) if left > 1 else None
            return serial

    def handle(self, body: bytes, client: str) -> tuple[int, bytes | Iterator[bytes]]:
        """Return (HTTP status, body). Faults are HTTP 200 like any XML-RPC server."""
        if self.mode == "404":
            return 404, b"Not Found"
        try:
            try:
                params, method = xmlrpc.client.loads(body, use_builtin_types=True)
            except Exception as exc:  # noqa: BLE001 - any parse error is the client's
                raise XmlRpcFault(-32700, f"parse error; {exc}") from None
            method = method or ""
            if len(self.calls) < 100_000:
                self.calls.append((client, method))
            if self.mode == "fault":
                raise XmlRpcFault(-32500, "RuntimeError: The XML-RPC API is disabled on this server.")
            self.rate.check(client)
            if method in DISABLED:
                raise XmlRpcFault(
                    -32500,
                    f"RuntimeError: The '{method}' XML-RPC method has been deprecated and is no "
                    "longer available; use the JSON or Simple API instead.",
                )
            if method == "changelog_last_serial":
                self._arity(method, params, 0)
                as_of = self._as_of()
                last = self.store.last_serial
                return 200, self._dump(last if as_of is None else min(last, as_of))
            if method == "changelog_since_serial":
                self._arity(method, params, 1)
                serial = params[0]
                if not isinstance(serial, int) or isinstance(serial, bool):
                    raise XmlRpcFault(
                        -32602, f"client error; serial: Value {serial!r} is not a valid integer"
                    )
                rows = self.store.journal.since(serial, self.changelog_cap)
                as_of = self._as_of()
                if as_of is not None:
                    rows = [r for r in rows if r[4] <= as_of]
                return 200, self._dump([list(r) for r in rows])
            if method == "list_packages_with_serial":
                self._arity(method, params, 0)
                return 200, self._stream_packages()
            raise XmlRpcFault(-32601, f"server error; requested method not found: '{method}'")
        except XmlRpcFault as fault:
            return 200, xmlrpc.client.dumps(xmlrpc.client.Fault(fault.code, fault.message),
                                            methodresponse=True, allow_none=True).encode()

    @staticmethod
    def _arity(method: str, params: tuple, expected: int) -> None:
        if len(params) != expected:
            raise XmlRpcFault(
                -32602, f"client error; {method}() takes {expected} argument(s) but {len(params)} were given"
            )

    @staticmethod
    def _dump(value: Any) -> bytes:
        return xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True).encode()

    def _stream_packages(self) -> Iterator[bytes]:
        """``{display name: last serial}`` written piecewise: the 700k-project dict never exists."""
        yield b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n"
        buf: list[str] = []
        for display, _norm, serial in self.store.iter_index():
            buf.append(f"<member>\n<name>{escape(display)}</name>\n<value><int>{serial}</int></value>\n</member>\n")
            if len(buf) >= 2000:
                yield "".join(buf).encode()
                buf.clear()
        buf.append("</struct></value>\n</param>\n</params>\n</methodResponse>\n")
        yield "".join(buf).encode()
