"""The CDN in front of the origin: stale pins and PURGE.

Why pins instead of a real cache: a mirror's stale-serial logic only needs the CDN to keep
answering with an older snapshot (old body *and* old ``X-PyPI-Last-Serial``) until a PURGE of that
URL arrives. A pin says "render this URL (or every page of this project, in every Accept variant)
as of serial S"; the origin can render any past serial from the journal, so this is exactly what
a cache holding that snapshot would serve. ``remaining`` limits a pin to the next N requests.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

PURGE_MODES = ("auth", "open")
AUTH_FAILURE_BODY = b'{"msg":"Provided credentials are missing or invalid"}'


@dataclass
class Pin:
    serial: int
    remaining: int | None = None  # None: until purged / unpinned
    purged: set[str] = field(default_factory=set)  # paths of a project pin evicted by PURGE

    def as_dict(self) -> dict:
        return {"serial": self.serial, "remaining": self.remaining, "purged": sorted(self.purged)}


class Cdn:
    def __init__(self, purge_mode: str = "auth", purge_key: str | None = None) -> None:
        self.set_purge_mode(purge_mode, purge_key)
        self._projects: dict[str, Pin] = {}
        self._urls: dict[str, Pin] = {}
        self._purges: list[dict] = []
        self._purge_count = 0
        self._lock = threading.Lock()

    def set_purge_mode(self, mode: str, key: str | None = None) -> None:
        if mode not in PURGE_MODES:
            raise ValueError(f"purge mode must be one of {PURGE_MODES}, not {mode!r}")
        self.purge_mode = mode
        self.purge_key = key

    # ----------------------------------------------------------------- pins
    def pin_project(self, normalized: str, serial: int, remaining: int | None = None) -> None:
        with self._lock:
            self._projects[normalized] = Pin(serial, remaining)

    def pin_url(self, path: str, serial: int, remaining: int | None = None) -> None:
        with self._lock:
            self._urls[path] = Pin(serial, remaining)

    def unpin_project(self, normalized: str) -> None:
        with self._lock:
            self._projects.pop(normalized, None)

    def unpin_url(self, path: str) -> None:
        with self._lock:
            self._urls.pop(path, None)

    def unpin_all(self) -> None:
        with self._lock:
            self._projects.clear()
            self._urls.clear()

    def pins(self) -> dict:
        with self._lock:
            return {"projects": {k: v.as_dict() for k, v in self._projects.items()},
                    "urls": {k: v.as_dict() for k, v in self._urls.items()}}

    def stale_serial(self, path: str, normalized: str | None) -> int | None:
        """Serial to render this page at, or None for fresh; consumes one use of a counted pin."""
        if not self._projects and not self._urls:
            return None
        with self._lock:
            pin = self._urls.get(path)
            table, key = self._urls, path
            if pin is None and normalized is not None:
                pin = self._projects.get(normalized)
                table, key = self._projects, normalized
                if pin is not None and path in pin.purged:
                    pin = None
            if pin is None:
                return None
            if pin.remaining is not None:
                pin.remaining -= 1
                if pin.remaining <= 0:
                    del table[key]
            return pin.serial

    # ---------------------------------------------------------------- purge
    def purge(self, path: str, normalized: str | None, key: str | None) -> tuple[int, bytes, list[tuple[str, str]]]:
        """Handle ``PURGE path``; returns (status, body, extra headers) and records it."""
        authorized = self.purge_mode == "open" or (self.purge_key is not None and key == self.purge_key)
        with self._lock:
            self._purge_count += 1
            purge_id = f"{self._purge_count}-{int(time.time())}-{1000000 + self._purge_count}"
            if authorized:
                self._urls.pop(path, None)
                if normalized is not None and normalized in self._projects:
                    self._projects[normalized].purged.add(path)
            status = 200 if authorized else 401
            self._purges.append({"path": path, "status": status, "key_sent": key is not None,
                                 "time": time.time(), "id": purge_id if authorized else None})
        if authorized:
            return 200, b'{"status": "ok", "id": "%s"}' % purge_id.encode(), []
        return 401, AUTH_FAILURE_BODY, [("Fastly-Purge-Auth-Failure", "1")]

    def purges(self) -> list[dict]:
        with self._lock:
            return [dict(p) for p in self._purges]

    def clear_purges(self) -> None:
        with self._lock:
            self._purges.clear()
