"""The fleet's gauges in the wrapper's textfile: is this host a replica, its hub's serial, its lag.

Why from hub.json and not from another GET: the run that just ended read the hub's head; the
metrics say what that run saw (alert rules: roles/pypi_mirror/files/pypi-mirror.rules.yml).
"""

from __future__ import annotations

from mirror_tool.config import Config
from mirror_tool.hubstate import lag, read_hub_state
from mirror_tool.wrapper.metrics import Metric, gauge


def fleet_metrics(config: Config, mirror_serial: int | None, now: float) -> list[Metric]:
    replica = config.mirror.upstream_kind == "mirror"
    metrics = [gauge("replica", "1 when this mirror syncs from a hub (upstream-kind = mirror), else 0.", int(replica))]
    if not replica:
        return metrics
    state = read_hub_state(config.mirror.directory)
    serials, seconds = lag(state, mirror_serial, now)
    known = [
        ("hub_serial", "Serial of the hub's change journal head, as the last run read it.", state.hub_serial),
        ("hub_lag_serials", "Serials this replica is behind its hub's head.", serials),
        ("hub_lag_seconds",
         "Seconds since this replica last held its hub's serial (0 when it holds it now).", seconds),
        ("hub_checked_timestamp_seconds",
         "When the hub last confirmed its head (epoch seconds), as the last run read it.", state.hub_checked),
    ]
    metrics += [gauge(name, help_text, value) for name, help_text, value in known if value is not None]
    metrics.append(gauge("fallback_active", "1 when the last run synced from fallback-upstream (no hub answered).",
                         int(state.fallback)))
    return metrics


__all__ = ["fleet_metrics"]
