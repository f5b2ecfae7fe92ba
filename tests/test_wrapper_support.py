"""Helpers (no tests) shared by tests/test_wrapper*.py: config files, running the real console script,
reading the metrics textfile with Prometheus' own parser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mirror_tool.wrapper.clock import CLOCK_OFFSET_ENV

WRAPPER_TIMEOUT = 120


def wrapper_command() -> list[str]:
    """The installed console script beside this interpreter (what cron runs)."""
    script = Path(sys.executable).parent / "pypi-mirror-run"
    if script.exists():
        return [str(script)]
    found = shutil.which("pypi-mirror-run")
    assert found, "pypi-mirror-run is not installed (pip install -e .)"
    return [found]


def write_config(path: Path, mirror_dir: Path, master: str, mirror: dict | None = None, wrapper: dict | None = None) -> Path:
    """A config with fast test settings; `mirror` / `wrapper` override or add keys."""
    mirror_keys = {"directory": str(mirror_dir), "master": master, "workers": "2", "stale-retries": "1",
                   "stale-backoff": "0", "timeout": "10", "retries": "1"}
    mirror_keys.update(mirror or {})
    wrapper_keys = {"time-limit": "120", "retry-attempts": "2", "retry-backoff": "0.05", "retry-max-time": "10"}
    wrapper_keys.update(wrapper or {})
    lines = ["[mirror]"] + [f"{k} = {v}" for k, v in mirror_keys.items()]
    lines += ["", "[wrapper]"] + [f"{k} = {v}" for k, v in wrapper_keys.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run_wrapper(config: Path, clock_offset: float = 0.0, extra_env: dict | None = None) -> Run:
    """Run `pypi-mirror-run -c config` as a separate process, the way cron does."""
    env = dict(os.environ)
    env[CLOCK_OFFSET_ENV] = repr(float(clock_offset))
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra_env or {})
    proc = subprocess.run(wrapper_command() + ["-c", str(config)], capture_output=True, text=True,
                          env=env, timeout=WRAPPER_TIMEOUT)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def read_metrics(path: Path) -> dict[str, dict]:
    """family name -> {labels tuple -> value}, parsed by prometheus_client's text parser.

    Counter families are keyed by the full sample name (`..._total`)."""
    out: dict[str, dict] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            out.setdefault(sample.name, {})[key] = sample.value
    return out


def metric(metrics: dict[str, dict], name: str, **labels: str) -> float:
    return metrics["pypi_mirror_" + name][tuple(sorted(labels.items()))]


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL): ")
