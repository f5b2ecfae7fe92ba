"""Prometheus textfile metrics of the last `pypi-mirror-run`.

Written in the text exposition format (no client library needed) to a temp file in the target
directory, then `os.replace`d, so node_exporter's textfile collector never reads half a file.
Names and meanings are listed in `docs/design.md` (`[wrapper]` metrics).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from mirror_tool.storage.atomic import atomic_write

PREFIX = "pypi_mirror_"


@dataclass
class Metric:
    """One metric family: name without prefix, type, help text, samples (labels, value)."""

    name: str
    kind: str  # "gauge" | "counter"
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> "Metric":
        self.samples.append((labels, value))
        return self


def gauge(name: str, help_text: str, value: float | None = None) -> Metric:
    metric = Metric(name, "gauge", help_text)
    if value is not None:
        metric.add(value)
    return metric


def counter(name: str, help_text: str, value: float) -> Metric:
    if not name.endswith("_total"):
        raise ValueError("counter names end in _total")
    return Metric(name, "counter", help_text).add(value)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: float) -> str:
    """Integers without a decimal point, floats exactly (repr), specials as Prometheus spells them."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def render(metrics: list[Metric]) -> str:
    """Text exposition format, one HELP and TYPE line per family."""
    lines: list[str] = []
    for metric in metrics:
        full = PREFIX + metric.name
        lines.append(f"# HELP {full} {_escape_help(metric.help)}")
        lines.append(f"# TYPE {full} {metric.kind}")
        for labels, value in metric.samples:
            label_text = ""
            if labels:
                inner = ",".join(f'{key}="{_escape_label(val)}"' for key, val in sorted(labels.items()))
                label_text = "{" + inner + "}"
            lines.append(f"{full}{label_text} {format_value(value)}")
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, metrics: list[Metric]) -> None:
    """Atomically replace the textfile at `path`."""
    atomic_write(path, render(metrics).encode("utf-8"), fsync=True)


def previous_value(path: Path, name: str) -> float | None:
    """The unlabelled sample `PREFIX+name` of an existing textfile (None if absent or unreadable).

    Lets a run carry a value over when its own state was lost (e.g. the last success time)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(rf"^{re.escape(PREFIX + name)} (\S+)$", text, re.MULTILINE)
    if match is None:
        return None
    try:
        value = float(match.group(1))
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None
