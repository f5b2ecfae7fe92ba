"""The HTTP twin of ``FakePyPI``'s control methods, under ``/_fake/`` (JSON in, JSON out).

Why: the mirror client under test may run in another process or container and only know the
URL. Every endpoint answers ``{"ok": true, ...}``; bad input ``400 {"error": ...}``, an unknown
project / release / file ``404 {"error": ...}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs

from .response import Response, json_response
from .store import NotFound
from .wan import OFF, WAN

if TYPE_CHECKING:
    from .server import FakePyPI


def _pick(doc: dict, *keys: str) -> dict:
    return {k: doc[k] for k in keys if k in doc}


class ControlApi:
    def __init__(self, app: "FakePyPI") -> None:
        self.app = app
        a = app
        self._get: dict[str, Callable[[dict], Any]] = {
            "state": lambda q: a.state(),
            "projects": lambda q: {"projects": a.projects()},
            "purges": lambda q: {"purges": a.purges()},
            "requests": lambda q: {"requests": a.requests()},
            "faults": lambda q: {"faults": a.list_faults()},
            "pins": lambda q: a.pins(),
            "journal": lambda q: {"rows": a.journal(int(q.get("since", 0)))},
        }
        self._post: dict[str, Callable[[dict], Any]] = {
            "create-project": lambda d: {"serial": a.create_project(d["name"])},
            "upload": lambda d: a.upload(d["name"], d["version"], **_pick(
                d, "files", "requires_python", "yanked", "file_size", "platforms", "summary", "classifiers",
                "license")),
            "yank": lambda d: {"serial": a.yank(d["name"], d["version"], d.get("reason", ""))},
            "unyank": lambda d: {"serial": a.unyank(d["name"], d["version"])},
            "remove-file": lambda d: {"serial": a.remove_file(d["name"], d["filename"])},
            "remove-release": lambda d: {"serial": a.remove_release(d["name"], d["version"])},
            "remove-project": lambda d: {"serial": a.remove_project(d["name"])},
            "pin": self._pin,
            "unpin": self._unpin,
            "purge-mode": lambda d: a.set_purge_mode(d["mode"], d.get("key")),
            "fault": lambda d: {"id": a.add_fault(d["kind"], **_pick(
                d, "path", "prefix", "regex", "status", "fraction", "count", "latency"))},
            "remove-fault": lambda d: a.remove_fault(int(d["id"])),
            "reset-faults": lambda d: a.clear_faults(),
            "clear-log": lambda d: a.clear_log(),
            "xmlrpc": lambda d: a.set_xmlrpc(d.get("mode"), **_pick(d, "rate_limit", "rate_window", "changelog_cap")),
            "xmlrpc-lag": lambda d: a.lag_xmlrpc(d.get("serial"), d.get("calls")),
            "core-metadata": lambda d: a.set_core_metadata(bool(d["enabled"])),
            "simple-json": lambda d: a.set_simple_json(bool(d["enabled"])),
            "wan": self._wan,
        }

    def _pin(self, d: dict) -> dict:
        """``{"name"| "path", "serial"?: int, "requests"?: int}``."""
        if "path" in d:
            return {"serial": self.app.pin_stale_url(d["path"], d.get("serial"), requests=d.get("requests"))}
        if "requests" in d:
            return {"serial": self.app.serve_stale_for(d["name"], int(d["requests"]), d.get("serial"))}
        return {"serial": self.app.pin_stale(d["name"], d.get("serial"))}

    def _wan(self, d: dict) -> dict:
        """``{"profile": "wan" | "off"}`` to start from a preset, plus any ``WanProfile`` keys."""
        doc = dict(d)
        preset = doc.pop("profile", None)
        presets = {"wan": WAN, "off": OFF}
        if preset is not None and preset not in presets:
            raise ValueError(f"profile must be wan or off, not {preset!r}")
        base = presets[preset] if preset is not None else self.app.wan
        self.app.set_wan(base.updated(doc))
        return {"wan": self.app.wan.as_dict()}

    def _unpin(self, d: dict) -> None:
        """``{"name"}``, ``{"path"}`` or ``{}`` (everything)."""
        if "path" in d:
            self.app.unpin_url(d["path"])
        elif "name" in d:
            self.app.unpin(d["name"])
        else:
            self.app.unpin_all()

    def handle(self, method: str, path: str, query: str, body: bytes) -> Response:
        endpoint = path[len("/_fake/"):].strip("/")
        table = self._get if method in ("GET", "HEAD") else self._post if method == "POST" else {}
        func = table.get(endpoint)
        if func is None:
            return json_response(404, {"error": f"no control endpoint {method} {path}"})
        try:
            if method == "POST":
                doc = json.loads(body or b"{}")
                if not isinstance(doc, dict):
                    raise ValueError("body must be a JSON object")
            else:
                doc = {k: v[-1] for k, v in parse_qs(query).items()}
            result = func(doc)
        except NotFound as exc:
            return json_response(404, {"error": str(exc.args[0] if exc.args else exc)})
        except KeyError as exc:
            return json_response(400, {"error": f"missing key {exc.args[0]!r}"})
        except (ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})
        out: dict[str, Any] = {"ok": True}
        if isinstance(result, dict):
            out.update(result)
        out.setdefault("last_serial", self.app.last_serial)
        return json_response(200, out)
