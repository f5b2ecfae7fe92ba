"""The fleet part of `pypi-mirror status`: kind, hub, the hub's serial, lag, this tree's journal.

Why here and not in cli.py: the wrapper's metrics report the same facts, and
playbooks/status.yml builds the fleet table from `status --json --live` on every host. Without
`--live` everything comes from local files (hub.json, the wrapper state, `web/changes/`); with it a
replica reads its hub's head (one small GET) and a hub asks its upstream for the last serial (one
XML-RPC call), so the table is current even when a sync has not run for a while. A replica never
asks the upstream anything.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from mirror_tool.config import Config
from mirror_tool.errors import MirrorError
from mirror_tool.hubstate import lag, read_hub_state
from mirror_tool.index import journal as fmt
from mirror_tool.stop import StopToken


def fleet_report(config: Config, mirror_serial: int | None, upstream_serial: int, *, live: bool) -> dict[str, Any]:
    """Keys added to `status --json` (docs/design.md lists them)."""
    settings = config.mirror
    now = time.time()
    out: dict[str, Any] = {"kind": settings.upstream_kind, "hub": None, "hub_serial": None, "hub_published": None,
                           "hub_checked": None, "hub_read_at": None, "hub_error": None, "hub_lag_serials": None,
                           "hub_lag_seconds": None, "fallback": False, "upstream_error": None,
                           "last_exit_code": _last_exit_code(config), "journal": _journal(config)}
    if settings.upstream_kind == "mirror":
        state = read_hub_state(settings.directory)
        out.update(hub=state.hub, hub_serial=state.hub_serial, hub_published=state.hub_published,
                   hub_checked=state.hub_checked, hub_read_at=state.read_at, fallback=state.fallback)
        live_serial = None
        if live:
            from mirror_tool.upstream.hub import HubUpstream

            client = HubUpstream(settings, StopToken())
            try:
                head = client.find_head()
                live_serial = head.serial
                out.update(hub=client.master, hub_serial=head.serial, hub_published=head.published,
                           hub_checked=head.checked, hub_read_at=now)
            except MirrorError as exc:
                out["hub_error"] = str(exc)
            finally:
                client.close()
        out["hub_lag_serials"], out["hub_lag_seconds"] = lag(state, mirror_serial, now, live_serial)
        out["upstream_serial"] = max(upstream_serial, out["hub_serial"] or 0)
    elif live:
        out["upstream_serial"] = max(upstream_serial, _live_upstream_serial(config, out))
    out["upstream_lag_serials"] = max(0, out.get("upstream_serial", upstream_serial) - (mirror_serial or 0))
    return out


def fleet_lines(report: dict[str, Any], when: Callable[[float | None], str]) -> list[str]:
    """The fleet's lines of the text `status` (`when` formats a time)."""
    lines = [f"kind:             {report['kind']}{' (a replica)' if report['kind'] == 'mirror' else ''}"]
    if report["kind"] == "mirror":
        lines.append(f"hub:              {report['hub'] or 'none answered yet'}"
                     f"{' (last run used fallback-upstream)' if report['fallback'] else ''}")
        if report["hub_error"]:
            lines.append(f"hub error:        {report['hub_error']}")
        serial = report["hub_serial"]
        lines.append(f"hub serial:       {serial if serial is not None else 'unknown'}"
                     f" (read {when(report['hub_read_at'])})")
        lag, seconds = report["hub_lag_serials"], report["hub_lag_seconds"]
        lines.append(f"lag behind hub:   {'?' if lag is None else lag} serials, "
                     f"{'?' if seconds is None else int(seconds)} seconds")
    journal = report["journal"]
    if journal and "error" not in journal:
        lines.append(f"change journal:   serial {journal['serial']}, complete since {journal['since']}, "
                     f"{journal['segments']} segments, {journal['entries']} entries")
    code = report["last_exit_code"]
    lines.append(f"last exit code:   {'unknown' if code is None else code}")
    return lines


def _live_upstream_serial(config: Config, out: dict[str, Any]) -> int:
    from mirror_tool.upstream.client import Upstream

    client = Upstream.for_mirror(config.mirror, StopToken())
    try:
        return client.changelog_last_serial()
    except MirrorError as exc:
        out["upstream_error"] = str(exc)
        return 0
    finally:
        client.close()


def _last_exit_code(config: Config) -> int | None:
    from mirror_tool.wrapper.retry_state import load_state

    return load_state(config.wrapper_state_path).last_exit_code


def _journal(config: Config) -> dict[str, Any] | None:
    """This tree's own journal (what replicas of this host would follow); None when it has none."""
    from mirror_tool.storage import open_storage

    storage = open_storage(config.mirror)
    raw_head, raw_list = storage.read(fmt.HEAD), storage.read(fmt.SEGMENTS)
    try:
        head = fmt.parse_head(raw_head) if raw_head is not None else None
        listing = fmt.parse_segments(raw_list) if raw_list is not None else None
    except ValueError:
        return {"error": "unreadable"}
    if head is None:
        return None
    segments = listing.segments if listing is not None else []
    return {"id": head.id, "serial": head.serial, "published": head.published, "checked": head.checked,
            "since": head.since, "segments": len(segments), "entries": sum(s.entries for s in segments)}


__all__ = ["fleet_lines", "fleet_report"]
