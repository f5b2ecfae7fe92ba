"""A tiny loopback HTTP client for tests: no proxies, no redirects followed, raw headers kept.

Why not urllib: it follows redirects (tests assert the 301s themselves) and honours proxy
environment variables (traffic must stay on 127.0.0.0/8).
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None,
          timeout: float = 30.0) -> Reply:
    parts = urlsplit(url)
    if parts.hostname is None or not (parts.hostname.startswith("127.") or parts.hostname == "localhost"):
        raise ValueError(f"refusing non-loopback URL {url}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path or "/", body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def control(base_url: str, endpoint: str, doc: dict | None = None) -> Reply:
    """POST JSON to ``/_fake/<endpoint>`` (GET when ``doc`` is None)."""
    if doc is None:
        return fetch(f"{base_url}/_fake/{endpoint}")
    return fetch(f"{base_url}/_fake/{endpoint}", "POST", {"Content-Type": "application/json"},
                 json.dumps(doc).encode())
