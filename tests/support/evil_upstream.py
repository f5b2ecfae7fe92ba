"""A tiny hostile upstream: serves hand-written JSON / XML-RPC answers (path traversal, bad names).

FakePyPI only produces well-formed data; the mirror's refusal of unsafe names, filenames and URLs
needs an upstream that lies on purpose.
"""

from __future__ import annotations

import hashlib
import json
import threading
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class EvilUpstream:
    """`routes`: path -> (status, headers, body bytes); `changelog`: rows for XML-RPC."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.changelog: list[list[Any]] = []
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                status, headers, body = outer.routes.get(self.path, (404, {}, b"not found"))
                self._send(status, headers, body)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                params, method = xmlrpc.client.loads(self.rfile.read(length))
                outer.requests.append(f"XMLRPC {method}")
                if method == "changelog_last_serial":
                    result: Any = max((r[4] for r in outer.changelog), default=0)
                elif method == "changelog_since_serial":
                    result = [r for r in outer.changelog if r[4] > params[0]]
                elif method == "list_packages_with_serial":
                    result = {}
                    for r in outer.changelog:
                        result[r[0]] = r[4]
                else:
                    result = xmlrpc.client.Fault(1, "no")
                if isinstance(result, xmlrpc.client.Fault):
                    body = xmlrpc.client.dumps(result, methodresponse=True).encode()
                else:
                    body = xmlrpc.client.dumps((result,), methodresponse=True).encode()
                self._send(200, {"Content-Type": "text/xml"}, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "EvilUpstream":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_file(self, path: str, data: bytes) -> str:
        """Serve `data` at `path`; returns its sha256."""
        self.routes[path] = (200, {"Content-Type": "application/octet-stream"}, data)
        return hashlib.sha256(data).hexdigest()

    def add_project(self, name: str, serial: int, files: list[dict[str, Any]]) -> None:
        """Serve `/pypi/<name>/json` with `files` as release 1.0 and log a changelog row."""
        doc = {"info": {"name": name}, "last_serial": serial, "releases": {"1.0": files}, "urls": files}
        self.routes[f"/pypi/{name}/json"] = (
            200,
            {"Content-Type": "application/json", "X-PyPI-Last-Serial": str(serial)},
            json.dumps(doc).encode(),
        )
        self.changelog.append([name, "1.0", 0, "new release", serial])
