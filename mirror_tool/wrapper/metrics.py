"""Prometheus textfile metrics of the last `pypi-mirror-run`, written with prometheus_client.

The values are computed by the run (and the state file), not counted by live instruments, so each
run builds `Metric` families and exports them once through a custom collector on its own
`CollectorRegistry`; `write_to_textfile` writes a temporary sibling and renames it, so
node_exporter's textfile collector never reads half a file. The previous file is read back with
prometheus_client's parser. Names and meanings are listed in `docs/design.md` (`[wrapper]` metrics).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric as Family
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

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


class _RunCollector(Collector):
    """Exports a fixed list of families (a run's results) in prometheus_client's own types."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Family]:
        for metric in self._metrics:
            label_names = sorted({name for labels, _ in metric.samples for name in labels})
            kind = GaugeMetricFamily if metric.kind == "gauge" else CounterMetricFamily
            family = kind(PREFIX + metric.name, metric.help, labels=label_names)
            for labels, value in metric.samples:
                family.add_metric([labels[name] for name in label_names], value)
            yield family


def _registry(metrics: list[Metric]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RunCollector(metrics))
    return registry


def render(metrics: list[Metric]) -> str:
    """Text exposition format, one HELP and TYPE line per family."""
    return generate_latest(_registry(metrics)).decode("utf-8")


def write_metrics(path: Path, metrics: list[Metric]) -> None:
    """Atomically replace the textfile at `path` (its directory is created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), _registry(metrics))
    # write_to_textfile leaves mode to the umask and does not fsync: node_exporter (another user)
    # must read the file, and the last success it carries outlives a lost state file.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchmod(fd, 0o644)
        os.fsync(fd)
    finally:
        os.close(fd)


def previous_value(path: Path, name: str) -> float | None:
    """The unlabelled sample `PREFIX+name` of an existing textfile (None if absent or unreadable).

    Lets a run carry a value over when its own state was lost (e.g. the last success time)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == PREFIX + name and not sample.labels:
                    value = float(sample.value)
                    return value if math.isfinite(value) and value > 0 else None
    except ValueError:  # not the exposition format (a damaged file): nothing to carry over
        return None
    return None
