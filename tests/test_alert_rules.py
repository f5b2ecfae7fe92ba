"""The role's Prometheus alert rules, checked and unit-tested by the real promtool.

promtool comes from Debian's `prometheus` package (scripts/setup-host.sh installs it without
starting the server). The rule tests (tests/promtool/) feed each alert series that must fire and
series that must not, and check labels and annotations.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "roles/pypi_mirror/files/pypi-mirror.rules.yml"
RULE_TESTS = REPO / "tests/promtool/pypi-mirror.rules.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool missing: run scripts/setup-host.sh (Debian package prometheus)"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False)


def test_rules_file_is_valid() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert alerts == tested, f"alerts without a firing test: {sorted(alerts - tested)}"
    assert {"PypiMirrorSyncFailing", "PypiMirrorReplicaLag", "PypiMirrorSerialLag", "PypiMirrorMetricsTooOld",
            "PypiMirrorStaleProjectPersists"} <= alerts


def test_the_metrics_the_rules_read_are_the_ones_the_wrapper_writes() -> None:
    """A renamed metric would silence an alert for good: every name the rules use is documented."""
    import re

    design = (REPO / "docs/design.md").read_text()
    names = set(re.findall(r"pypi_mirror_[a-z_]+", RULES.read_text()))
    missing = sorted(n for n in names if f"`{n}`" not in design)
    assert not missing, f"metrics used by the rules but not listed in docs/design.md: {missing}"
