"""The one response shape every layer (origin, CDN, control, faults) hands to the HTTP handler."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class Response:
    status: int
    body: bytes | Iterator[bytes] = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "text/plain; charset=utf-8"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_response(status: int, doc: object, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(doc).encode(), list(headers or []), "application/json")


def text_response(status: int, text: str) -> Response:
    return Response(status, text.encode())
