"""Alert rules: the PrometheusRule matches the plain rules file, promtool accepts and unit-tests it,
every alert the issue asks for exists and has firing and quiet test cases, and every expression
uses only metric names from DESIGN.md."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from deploy_helpers import DEPLOY, RULE_TESTS, RULES, allowed_metric_names, metric_names, rule_exprs, tool

PROMTOOL = tool("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus)"
)
# issue 6: one alert per failure mode
REQUIRED_ALERTS = {
    "MeshproberPathFailing": "a path failing for N minutes",
    "MeshproberMtlsConflict": "an mTLS conflict present",
    "MeshproberNotProbing": "the agent not probing (stale last-probe timestamp)",
    "MeshproberErrorsRising": "agent errors rising",
    "MeshproberShardMissing": "a shard missing",
    "MeshproberAbsent": "no agent scraped at all (deploy/README.md lists it with the others)",
}


def test_prometheusrule_matches_plain_rules_file() -> None:
    crd = yaml.safe_load((DEPLOY / "base" / "prometheusrule.yaml").read_text())
    assert crd["spec"] == yaml.safe_load(RULES.read_text())


def test_required_alerts_exist() -> None:
    names = {name for name, _ in rule_exprs()}
    assert set(REQUIRED_ALERTS) <= names


@pytest.mark.parametrize(("name", "expr"), rule_exprs(), ids=[n for n, _ in rule_exprs()])
def test_rule_uses_only_contract_metrics(name: str, expr: str) -> None:
    used = metric_names(expr)
    assert used, f"{name} uses no meshprober metric"
    assert used <= allowed_metric_names(), sorted(used - allowed_metric_names())


@pytest.mark.parametrize("alert", sorted(REQUIRED_ALERTS), ids=sorted(REQUIRED_ALERTS))
def test_alert_has_firing_and_quiet_unit_tests(alert: str) -> None:
    cases = [
        case
        for path in sorted(RULE_TESTS.glob("*.yaml"))
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == alert
    ]
    assert any(c["exp_alerts"] for c in cases), f"no firing case for {alert}"
    assert any(not c["exp_alerts"] for c in cases), f"no quiet case for {alert}"


@needs_promtool
def test_promtool_check_rules() -> None:
    proc = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_promtool_test_rules() -> None:
    files = [str(p) for p in sorted(RULE_TESTS.glob("*.yaml"))]
    assert files
    proc = subprocess.run(
        [str(PROMTOOL), "test", "rules", *files],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=DEPLOY.parent,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
