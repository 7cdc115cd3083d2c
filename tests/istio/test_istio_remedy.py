"""The seed scenario (issue 3's 'done when') and remedy patches that keep every other setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.istio.engine import PolicyEngine
from agent.istio.load import load_objects_from_dir
from tests.support.istio_builders import dr, pa, pod, svc

SEED = Path(__file__).resolve().parents[1] / "testdata/policy/seed"


@pytest.fixture(scope="module")
def seed() -> PolicyEngine:
    result = load_objects_from_dir(SEED)
    assert result.notes == []
    engine = PolicyEngine(result.objects)
    assert engine.notes == []
    return engine


@pytest.mark.parametrize(
    ("ns", "pod_name", "status", "client", "dr_ref"),
    [
        pytest.param("load-test", "load-test-client-84d6b9c7f-q4w8z", "CONFLICT", "DISABLE", "bookinfo/destrule-productpage", id="load-test-conflict"),
        pytest.param("bookinfo", "reviews-v1-5c9b7d8f6-a7b2c", "CONFLICT", "DISABLE", "bookinfo/destrule-productpage", id="bookinfo-conflict"),
        pytest.param("traffic-generator", "traffic-generator-7b9c6d5f4-h7m2p", "OK", "ISTIO_MUTUAL", "traffic-generator/named-destrule",
                     id="traffic-generator-ok"),
    ],
)  # fmt: skip
def test_seed(seed: PolicyEngine, ns: str, pod_name: str, status: str, client: str, dr_ref: str) -> None:
    v = seed.check(ns, pod_name, "productpage.bookinfo", 9080)
    assert (v.status, v.server_mode, v.client_mode, v.client_mode_source) == (
        status,
        "STRICT",
        client,
        "destination_rule",
    )
    assert (v.destination_rule, v.peer_authentication) == (dr_ref, "bookinfo/default")
    if status == "OK":
        assert v.remedy_patch is None and v.symptom is None
        return
    assert v.symptom and "503 UC" in v.symptom and "connection termination" in v.symptom
    patch = yaml.safe_load(v.remedy_patch or "")
    assert patch["metadata"] == {"name": "destrule-productpage", "namespace": "bookinfo"}
    assert patch["spec"]["trafficPolicy"] == {
        "loadBalancer": {"simple": "LEAST_CONN"},
        "tls": {"mode": "ISTIO_MUTUAL"},
    }
    assert "bookinfo/destrule-productpage (host productpage, exported to all)" in v.explanation


def test_seed_remedy_fixes_it(seed: PolicyEngine) -> None:
    v = seed.check("load-test", None, "productpage.bookinfo", 9080)
    objs = [
        o
        for o in load_objects_from_dir(SEED).objects
        if (o.get("metadata") or {}).get("name") != "destrule-productpage"
    ]
    objs.append(yaml.safe_load(v.remedy_patch or ""))
    assert all(view.status == "OK" for _, view in PolicyEngine(objs).audit())


def test_seed_audit_lists_every_pair(seed: PolicyEngine) -> None:
    rows = {(ns, v.host.split(".")[0], v.status) for ns, v in seed.audit()}
    assert ("load-test", "productpage", "CONFLICT") in rows
    assert ("bookinfo", "productpage", "CONFLICT") in rows
    assert ("traffic-generator", "productpage", "OK") in rows
    assert {ns for ns, _, _ in rows} == {"bookinfo", "load-test", "traffic-generator"}
    assert len(rows) == 9


WEB = [svc("ns", "web", 80, 8080), pod("ns", "web-0", "web", port=8080), pod("cli", "client-0", "client")]
FULL_POLICY = {
    "loadBalancer": {"simple": "LEAST_CONN"},
    "connectionPool": {"tcp": {"maxConnections": 7}},
    "outlierDetection": {"consecutive5xxErrors": 3},
}


def _dr_full(ns: str, name: str, host: str, tls: dict[str, Any], **spec: Any) -> dict[str, Any]:
    obj = dr(ns, name, host)
    obj["spec"]["trafficPolicy"] = {**FULL_POLICY, "tls": tls}
    obj["spec"].update(spec)
    obj["metadata"].update(
        uid="123", resourceVersion="9", annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    )
    obj["status"] = {}
    return obj


@pytest.mark.parametrize(
    ("extra", "want_name", "want_spec", "text_has"),
    [
        pytest.param(
            [pa("ns", "default", "STRICT"),
             _dr_full("ns", "web", "web", {"mode": "SIMPLE", "caCertificates": "/x"}, subsets=[{"name": "v1", "labels": {"v": "1"}}],
                      exportTo=["*"])],
            "ns/web",
            {"host": "web", "trafficPolicy": {**FULL_POLICY, "tls": {"mode": "ISTIO_MUTUAL"}}, "subsets": [{"name": "v1", "labels": {"v": "1"}}], "exportTo": ["*"]},
            "caCertificates", id="patch-in-place-keeps-everything-drops-cert-fields",
        ),
        pytest.param(
            [pa("ns", "default", "STRICT"), _dr_full("istio-system", "mesh", "*.local", {"mode": "DISABLE"})],
            "istio-system/web-mtls",
            {"host": "web.ns.svc.cluster.local", "trafficPolicy": {**FULL_POLICY, "tls": {"mode": "ISTIO_MUTUAL"}}},
            "copies that rule's traffic policy", id="new-dr-shadows-broader-copies-policy",
        ),
        pytest.param(
            [pa("ns", "default", "DISABLE"), dr("ns", "web", "web", tls="ISTIO_MUTUAL", lb="RANDOM")],
            "ns/web",
            {"host": "web", "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}, "tls": {"mode": "DISABLE"}}},
            "DISABLE", id="mtls-to-disable-server-patch-to-disable",
        ),
        pytest.param(
            [pa("ns", "default", "STRICT"),
             dr("ns", "web", "web", tls="DISABLE", port_level=[{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}}])],
            "ns/web",
            {"host": "web", "trafficPolicy": {"tls": {"mode": "DISABLE"},
                                              "portLevelSettings": [{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}, "tls": {"mode": "ISTIO_MUTUAL"}}]}},
            "portLevelSettings", id="port-level-gap-patches-the-port-entry",
        ),
        pytest.param(
            [pa("ns", "default", "DISABLE"), pa("ns", "web", "STRICT", selector={"app": "web"})],
            "ns/web-mtls", {"host": "web.ns.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
            "Create", id="no-dr-gap-new-dr-in-service-namespace",
        ),
    ],
)  # fmt: skip
def test_remedy(
    extra: list[dict[str, Any]], want_name: str, want_spec: dict[str, Any], text_has: str
) -> None:
    engine = PolicyEngine(WEB + extra)
    v = engine.check("cli", "client-0", "web.ns", 80)
    assert v.status == "CONFLICT"
    assert v.remedy_text and text_has in v.remedy_text
    patch = yaml.safe_load(v.remedy_patch or "")
    assert f"{patch['metadata']['namespace']}/{patch['metadata']['name']}" == want_name
    assert set(patch["metadata"]) == {"name", "namespace"}
    assert "status" not in patch
    assert patch["spec"] == want_spec
    # applying the patch fixes the pair
    fixed = [
        o
        for o in WEB + extra
        if f"{o['metadata'].get('namespace')}/{o['metadata']['name']}" != want_name
        or o["kind"] != "DestinationRule"
    ]
    assert PolicyEngine([*fixed, patch]).check("cli", "client-0", "web.ns", 80).status == "OK"


def test_remedy_patches_the_merged_dr_whose_policy_is_in_force() -> None:
    first = dr("ns", "a-subsets", "web", subsets=[{"name": "v1", "labels": {"app": "web"}}])
    second = dr("ns", "b-policy", "web", tls="DISABLE", lb="RANDOM")
    engine = PolicyEngine([*WEB, pa("ns", "default", "STRICT"), first, second])
    v = engine.check("cli", "client-0", "web.ns", 80)
    assert (v.status, v.destination_rule) == ("CONFLICT", "ns/a-subsets")
    patch = yaml.safe_load(v.remedy_patch or "")
    assert patch["metadata"]["name"] == "b-policy"
    assert patch["spec"]["trafficPolicy"] == {
        "loadBalancer": {"simple": "RANDOM"},
        "tls": {"mode": "ISTIO_MUTUAL"},
    }
    assert (
        PolicyEngine([*WEB, pa("ns", "default", "STRICT"), first, patch])
        .check("cli", "client-0", "web.ns", 80)
        .status
        == "OK"
    )
