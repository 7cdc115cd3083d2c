"""Istio's TestReachability truth table (tests/integration/security/reachability_test.go) on our engine.

Configs are the real templates in fixtures/istio-real/policy_scenarios/istio_reachability/, rendered
with the case's parameters. Clients: `a` (sidecar) and `naked` (no sidecar); servers: `b` (sidecar)
and `naked-srv` (no sidecar). Naked -> naked is left out: Istio's table does not probe it either
way in a meaningful form (plaintext always works between non-mesh pods).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from agent.istio import verdict
from agent.istio.engine import PolicyEngine
from agent.istio.load import load_objects_from_text
from tests.support.istio_builders import pod, svc
from tests.support.shared_data import REAL

FIXTURES = REAL / "policy_scenarios" / "istio_reachability"
if not FIXTURES.is_dir():  # the fixtures travel with the repo's shared tree
    FIXTURES = (
        Path(__file__).resolve().parents[3] / "shared/fixtures/istio-real/policy_scenarios/istio_reachability"
    )
ROOT, NS = "istio-system", "echo"
PORTS = {"http": 8080, "http2": 8081, "https": 8082, "tcp": 8083, "grpc": 8084}


def render(name: str, ns: str, to: str = "b", **params: str) -> list[dict[str, Any]]:
    text = (FIXTURES / f"{name}.yaml.tmpl").read_text()
    for key, value in params.items():
        text = text.replace("{{ ." + key + " }}", value)
    text = text.replace("{{ .To.ServiceName }}", to).replace(
        "{{ .To.ClusterLocalFQDN }}", f"{to}.{NS}.svc.cluster.local"
    )
    text = re.sub(
        r"\{\{ \(\.To\.PortForName `(\w+)`\)\.WorkloadPort \}\}", lambda m: str(PORTS[m.group(1)]), text
    )
    objs = load_objects_from_text(text, name).objects
    for obj in objs:
        obj["metadata"].setdefault("namespace", ns)
    return objs


def workloads() -> list[dict[str, Any]]:
    return [
        pod(NS, "a-0", "a"),
        pod(NS, "naked-0", "naked", sidecar=False),
        svc(NS, "b", 80, 8080),
        pod(NS, "b-0", "b", port=8080),
        svc(NS, "naked-srv", 80, 8080),
        pod(NS, "naked-srv-0", "naked-srv", sidecar=False, port=8080),
    ]


def always(src: str, dst: str) -> bool:
    return True


def not_naked(src: str, dst: str) -> bool:
    return src != "naked" and dst != "naked-srv"


def not_to_naked(src: str, dst: str) -> bool:
    return dst != "naked-srv"


def not_from_naked(src: str, dst: str) -> bool:
    return src != "naked"


CASES = [
    ("global-mtls-strict", [("global-peer-authn", ROOT, {"MTLSMode": "STRICT"}), ("global-dr", ROOT, {"TLSMode": "ISTIO_MUTUAL"})], not_naked),
    ("global-mtls-permissive", [("global-peer-authn", ROOT, {"MTLSMode": "PERMISSIVE"}), ("global-dr", ROOT, {"TLSMode": "ISTIO_MUTUAL"})], not_to_naked),
    ("global-mtls-disabled", [("global-peer-authn", ROOT, {"MTLSMode": "DISABLE"}), ("global-dr", ROOT, {"TLSMode": "DISABLE"})], always),
    ("global-plaintext-to-mtls-permissive", [("global-peer-authn", ROOT, {"MTLSMode": "PERMISSIVE"}), ("global-dr", ROOT, {"TLSMode": "DISABLE"})], always),
    ("global-automtls-strict", [("global-peer-authn", ROOT, {"MTLSMode": "STRICT"})], not_from_naked),
    ("global-automtls-disable", [("global-peer-authn", ROOT, {"MTLSMode": "DISABLE"})], always),
    ("global-automtls-passthrough", [("automtls-passthrough", ROOT, {})], always),
    ("global-no-peer-authn", [("global-dr", ROOT, {"TLSMode": "ISTIO_MUTUAL"})], not_to_naked),
    ("mtls-strict", [("workload-peer-authn", NS, {"MTLSMode": "STRICT"}), ("workload-dr", NS, {"TLSMode": "ISTIO_MUTUAL"})], not_naked),
    ("mtls-permissive", [("workload-peer-authn", NS, {"MTLSMode": "PERMISSIVE"}), ("workload-dr", NS, {"TLSMode": "ISTIO_MUTUAL"})], not_to_naked),
    ("mtls-disabled", [("workload-peer-authn", NS, {"MTLSMode": "DISABLE"}), ("workload-dr", NS, {"TLSMode": "DISABLE"})], always),
    ("mtls-port-override", [("workload-peer-authn-port-override", NS, {"MTLSMode": "STRICT", "MTLSModeOverride": "DISABLE"})], always),
]  # fmt: skip
PAIRS = [("a", "b"), ("a", "naked-srv"), ("naked", "b")]


@pytest.mark.parametrize(
    ("configs", "expect", "src", "dst"),
    [pytest.param(cfg, expect, s, d, id=f"{name}:{s}->{d}") for name, cfg, expect in CASES for s, d in PAIRS],
)
def test_reachability(
    configs: list[tuple[str, str, dict[str, str]]], expect: Any, src: str, dst: str
) -> None:
    objs = workloads()
    for name, ns, params in configs:
        # workload-level configs target the destination service
        objs += render(name, ns, to=dst, **params)
    engine = PolicyEngine(objs)
    assert engine.notes == []
    view = engine.check(NS, f"{src}-0", f"{dst}.{NS}", 80)
    assert (view.status == "OK") == expect(src, dst), view.explanation


def migration(tls: str) -> list[dict[str, Any]]:
    text = (FIXTURES / "migration.yaml.tmpl").read_text()
    text = text.replace("{{ .To.ServiceName }}", "mig").replace(
        "{{ .To.ClusterLocalFQDN }}", f"mig.{NS}.svc.cluster.local"
    )
    # render the `{{- if ne .TLSMode "" }}` blocks
    if tls:
        text = re.sub(r"\{\{- if ne \.TLSMode \"\" \}\}\n", "", text).replace("{{- end }}", "")
        text = text.replace("{{ .TLSMode }}", tls)
    else:
        text = re.sub(r"\{\{- if ne \.TLSMode \"\" \}\}.*?\{\{- end \}\}", "", text, flags=re.S)
    objs = load_objects_from_text(text, "migration").objects
    for obj in objs:
        obj["metadata"]["namespace"] = NS
    objs += render("global-peer-authn", ROOT, MTLSMode="STRICT")
    objs += [
        pod(NS, "a-0", "a"),
        svc(NS, "mig", 80, 8080),
        pod(NS, "mig-vistio", "mig", labels={"version": "vistio"}, port=8080),
        pod(NS, "mig-vlegacy", "mig", sidecar=False, labels={"version": "vlegacy"}, port=8080),
    ]
    return objs


@pytest.mark.parametrize(
    ("tls", "subset", "works"),
    [
        pytest.param("", "vistio", True, id="migration-no-tls:vistio"),
        pytest.param("", "vlegacy", True, id="migration-no-tls:vlegacy"),
        pytest.param("DISABLE", "vistio", False, id="migration-tls-disabled:vistio"),
        pytest.param("DISABLE", "vlegacy", True, id="migration-tls-disabled:vlegacy"),
        pytest.param("ISTIO_MUTUAL", "vistio", True, id="migration-tls-mutual:vistio"),
        pytest.param("ISTIO_MUTUAL", "vlegacy", False, id="migration-tls-mutual:vlegacy"),
    ],
)
def test_migration_subsets(tls: str, subset: str, works: bool) -> None:
    engine = PolicyEngine(migration(tls))
    assert engine.notes == []
    decision = engine.client_tls(NS, {"app": "a"}, f"mig.{NS}.svc.cluster.local", 80, subset)
    endpoint = f"{NS}/mig-{subset}"
    sent = decision.sends_to(decision.endpoint_tls(endpoint) == "istio")
    server = "STRICT" if subset == "vistio" else "NONE"
    assert verdict.evaluate(sent, server)[0] is works
