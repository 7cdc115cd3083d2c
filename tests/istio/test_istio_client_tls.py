"""Client TLS decision (buildUpstreamTLSSettings, EDS marking) and Istio's real gaps."""

from __future__ import annotations

from typing import Any

import pytest

from agent.istio.client_tls import decide
from agent.istio.engine import PolicyEngine
from tests.support.istio_builders import dr, mesh, pa, pod, svc


@pytest.mark.parametrize(
    ("tls", "auto", "external", "svc_mode", "want"),
    [
        pytest.param({"mode": "ISTIO_MUTUAL", "sni": "custom.foo.com"}, True, False, "STRICT", ("ISTIO_MUTUAL", "destination_rule", False), id="dr-istio-mutual-kept"),
        pytest.param(None, True, False, "STRICT", ("ISTIO_MUTUAL", "auto", True), id="nil-auto-strict"),
        pytest.param(None, True, False, "PERMISSIVE", ("ISTIO_MUTUAL", "auto", True), id="nil-auto-permissive"),
        pytest.param(None, True, False, "DISABLE", ("DISABLE", "auto", False), id="nil-auto-disable"),
        pytest.param(None, True, True, "PERMISSIVE", ("DISABLE", "auto", False), id="nil-mesh-external"),
        pytest.param(None, False, False, "STRICT", ("DISABLE", "default", False), id="nil-auto-off"),
        pytest.param({"mode": "SIMPLE"}, True, False, "STRICT", ("SIMPLE", "destination_rule", False), id="simple-kept"),
        pytest.param({"mode": "MUTUAL"}, True, True, "UNKNOWN", ("MUTUAL", "destination_rule", False), id="mutual-mesh-external-kept"),
        pytest.param({}, True, False, "STRICT", ("DISABLE", "destination_rule", False), id="tls-without-mode-is-disable"),
    ],
)  # fmt: skip
def test_build_auto_mtls_settings(
    tls: dict[str, Any] | None, auto: bool, external: bool, svc_mode: str, want: tuple[str, str, bool]
) -> None:
    """TestBuildAutoMtlsSettings."""
    got = decide(tls=tls, auto_enabled=auto, mesh_external=external, service_mtls_mode=svc_mode)
    assert got[:3] == want


BASE = [svc("ns", "web", 80, 8080), pod("ns", "web-0", "web", port=8080), pod("cli", "client-0", "client")]


def _view(extra: list[dict[str, Any]]) -> Any:
    return PolicyEngine(BASE + extra).check("cli", "client-0", "web.ns", 80)


@pytest.mark.parametrize(
    ("extra", "status", "client", "source", "server"),
    [
        pytest.param([], "OK", "ISTIO_MUTUAL", "auto", "PERMISSIVE", id="healthy-defaults"),
        pytest.param([pa("ns", "default", "STRICT")], "OK", "ISTIO_MUTUAL", "auto", "STRICT", id="healthy-auto-to-strict"),
        pytest.param([pa("ns", "default", "DISABLE")], "OK", "DISABLE", "auto", "DISABLE", id="auto-plaintext-to-ns-disable"),
        pytest.param([pa("ns", "default", "DISABLE"), pa("ns", "web", "STRICT", selector={"app": "web"})], "CONFLICT", "DISABLE", "auto", "STRICT",
                     id="gap-ns-disable-workload-strict"),
        pytest.param([pa("istio-system", "default", "STRICT"), pa("ns", "web", "DISABLE", selector={"app": "web"})], "OK", "DISABLE", "auto", "DISABLE",
                     id="auto-ignores-workload-pa-for-cluster-but-marks-endpoint"),
        pytest.param([pa("ns", "default", "STRICT"), dr("ns", "web", "web", tls="DISABLE", port_level=[{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}}])],
                     "CONFLICT", "DISABLE", "auto", "STRICT", id="gap-port-entry-without-tls-under-top-disable"),
        pytest.param([pa("ns", "default", "STRICT"), dr("ns", "web", "web", port_level=[{"port": {"number": 80}, "tls": {"mode": "DISABLE"}}])],
                     "CONFLICT", "DISABLE", "destination_rule", "STRICT", id="port-entry-tls-disable"),
        pytest.param([pa("ns", "default", "STRICT"), dr("ns", "web", "web", tls="DISABLE", port_level=[{"port": {"number": 8080}, "tls": {"mode": "ISTIO_MUTUAL"}}])],
                     "CONFLICT", "DISABLE", "destination_rule", "STRICT", id="port-level-keyed-by-service-port-not-target"),
        pytest.param([pa("ns", "web", "STRICT", selector={"app": "web"}, ports={8080: "PERMISSIVE"}), dr("cli", "web", "web.ns.svc.cluster.local", tls="DISABLE")],
                     "OK", "DISABLE", "destination_rule", "PERMISSIVE", id="pa-port-level-keyed-by-target-port"),
        pytest.param([dr("ns", "web", "web", tls="SIMPLE")], "CONFLICT", "SIMPLE", "destination_rule", "PERMISSIVE", id="simple-to-sidecar"),
        pytest.param([mesh(enableAutoMtls=False), pa("ns", "default", "STRICT")], "CONFLICT", "DISABLE", "default", "STRICT", id="auto-off-no-dr"),
        pytest.param([mesh(enableAutoMtls=False), pa("ns", "default", "STRICT"), dr("istio-system", "default", "*.local", tls="ISTIO_MUTUAL")],
                     "OK", "ISTIO_MUTUAL", "destination_rule", "STRICT", id="auto-off-mesh-dr"),
        pytest.param([mesh(enableAutoMtls=False), pa("ns", "default", "STRICT"), dr("istio-system", "default", "*.local", tls="ISTIO_MUTUAL"),
                      dr("cli", "web", "web.ns.svc.cluster.local", lb="RANDOM")], "CONFLICT", "DISABLE", "default", "STRICT",
                     id="auto-off-tls-less-client-dr-hides-mesh-dr"),
        pytest.param([dr("ns", "web", "web.ns", tls="DISABLE"), pa("ns", "default", "STRICT")], "OK", "ISTIO_MUTUAL", "auto", "STRICT",
                     id="dotted-short-host-is-literal-never-matches"),
    ],
)  # fmt: skip
def test_client_decision_and_verdict(
    extra: list[dict[str, Any]], status: str, client: str, source: str, server: str
) -> None:
    v = _view(extra)
    assert (v.status, v.client_mode, v.client_mode_source, v.server_mode) == (
        status,
        client,
        source,
        server,
    ), v.explanation


def test_naked_client_and_server_without_sidecar() -> None:
    objs = [*BASE, pa("ns", "default", "STRICT"), pod("cli", "naked-0", "naked", sidecar=False)]
    objs += [svc("ns", "legacy", 80), pod("ns", "legacy-0", "legacy", sidecar=False)]
    engine = PolicyEngine(objs)
    naked = engine.check("cli", "naked-0", "web.ns", 80)
    assert (naked.status, naked.client_mode, naked.destination_rule) == ("CONFLICT", "DISABLE", None)
    assert naked.remedy_patch is None and naked.remedy_text and "sidecar" in naked.remedy_text
    plain = engine.check("cli", "client-0", "legacy.ns", 80)
    assert (plain.status, plain.server_mode, plain.client_mode) == ("OK", "NONE", "DISABLE")


def test_client_tls_api_for_the_lab() -> None:
    objs = [
        *BASE,
        dr(
            "ns",
            "web",
            "web",
            lb="LEAST_CONN",
            subsets=[{"name": "v1", "labels": {"version": "v1"}}],
            api="networking.istio.io/v1beta1",
        ),
    ]
    engine = PolicyEngine(objs)
    d = engine.client_tls("cli", {"app": "client"}, "web.ns.svc.cluster.local", 80)
    assert (d.mode, d.source, d.auto, d.destination_rule) == ("ISTIO_MUTUAL", "auto", True, "ns/web")
    assert d.destination_rule_api_version == "networking.istio.io/v1beta1"
    assert d.sni == "outbound_.80_._.web.ns.svc.cluster.local"
    assert d.subject_alt_names == ("spiffe://cluster.local/ns/ns/sa/web",)
    assert d.traffic_policy == {"loadBalancer": {"simple": "LEAST_CONN"}}
    assert d.endpoint_tls("ns/web-0") == "istio"
    assert d.endpoint_tls({"metadata": {"name": "web-0", "namespace": "ns"}}) == "istio"
    sub = engine.client_tls("cli", {}, "web.ns.svc.cluster.local", 80, subset="v1")
    assert sub.sni == "outbound_.80_.v1_.web.ns.svc.cluster.local"


def test_server_mode_api() -> None:
    engine = PolicyEngine(
        [pa("ns", "default", "STRICT"), pa("ns", "w", selector={"app": "web"}, ports={8080: "DISABLE"})]
    )
    assert (
        engine.server_mode("ns", {"app": "web"}, 8080).mode,
        engine.server_mode("ns", {"app": "web"}, 8080).peer_authentication,
    ) == ("DISABLE", "ns/w")
    assert engine.server_mode("ns", {"app": "web"}, 9090).peer_authentication == "ns/default"
    assert engine.server_mode("other", {}, 80).peer_authentication is None


@pytest.mark.parametrize(
    ("extra", "endpoint", "want"),
    [
        pytest.param([], "ns/web-0", "istio", id="known-pod-name"),
        pytest.param([], pod("ns", "web-9", "web"), "istio", id="raw-pod-object-not-in-resources"),
        pytest.param([], pod("ns", "web-9", "web", sidecar=False), None, id="raw-pod-without-sidecar"),
        pytest.param([pa("ns", "w", "DISABLE", selector={"app": "web"})], "ns/web-0", None, id="pa-disable-unmarked"),
        pytest.param([dr("cli", "web", "web.ns.svc.cluster.local", tls="DISABLE")], "ns/web-0", None, id="dr-mode-not-istio-mutual-unmarked"),
        pytest.param([], "ns/ghost", None, id="unknown-pod"),
    ],
)  # fmt: skip
def test_endpoint_tls(extra: list[dict[str, Any]], endpoint: Any, want: str | None) -> None:
    d = PolicyEngine(BASE + extra).client_tls("cli", {}, "web.ns.svc.cluster.local", 80)
    assert d.endpoint_tls(endpoint) == want


def test_external_name_service_is_not_a_sidecar() -> None:
    ext = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "ns"},
           "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"port": 443}]}}  # fmt: skip
    engine = PolicyEngine([*BASE, ext, dr("ns", "ext", "ext", tls="SIMPLE")])
    v = engine.check("cli", "client-0", "ext.ns", 443)
    assert (v.status, v.server_mode, v.client_mode) == ("OK", "NONE", "SIMPLE")
    assert PolicyEngine([*BASE, ext]).check("cli", None, "ext.ns", 443).client_mode == "DISABLE"


@pytest.mark.parametrize(
    ("subset_tls", "note"),
    [
        pytest.param(
            "DISABLE",
            "subset v2 (only when a VirtualService routes to it): CONFLICT",
            id="subset-disable-noted",
        ),
        pytest.param("ISTIO_MUTUAL", None, id="subset-istio-mutual-healthy"),
    ],
)
def test_subset_tls_is_noted(subset_tls: str, note: str | None) -> None:
    subsets = [{"name": "v2", "labels": {"app": "web"}, "trafficPolicy": {"tls": {"mode": subset_tls}}}]
    v = _view([pa("ns", "default", "STRICT"), dr("ns", "web", "web", subsets=subsets)])
    assert v.status == "OK"  # the default cluster uses DR-level policy only
    assert (note in v.explanation) if note else ("subset" not in v.explanation)


@pytest.mark.parametrize(
    ("subset", "want"),
    [
        pytest.param("v1", ("ISTIO_MUTUAL", "destination_rule", False, "custom.sni.com"), id="subset-port-level-istio-mutual-plain-tls"),
        pytest.param("v2", ("ISTIO_MUTUAL", "auto", True, "outbound_.80_.v2_.web.ns.svc.cluster.local"), id="other-subset-auto"),
        pytest.param(None, ("ISTIO_MUTUAL", "auto", True, "outbound_.80_._.web.ns.svc.cluster.local"), id="default-cluster-auto"),
    ],
)  # fmt: skip
def test_auto_mtls_cluster_subsets(subset: str | None, want: tuple[str, str, bool, str]) -> None:
    """TestAutoMTLSClusterSubsets."""
    v1_policy = {
        "portLevelSettings": [
            {"port": {"number": 80}, "tls": {"mode": "ISTIO_MUTUAL", "sni": "custom.sni.com"}}
        ]
    }
    subsets = [
        {"name": "v1", "labels": {"version": "v1"}, "trafficPolicy": v1_policy},
        {"name": "v2", "labels": {"version": "v2"}},
    ]
    engine = PolicyEngine([*BASE, dr("ns", "web", "web", subsets=subsets)])
    d = engine.client_tls("cli", {}, "web.ns.svc.cluster.local", 80, subset)
    assert (d.mode, d.source, d.auto, d.sni) == want


def test_deployment_templates_stand_in_for_pods() -> None:
    def deploy(ns: str, name: str, sidecar: bool) -> dict[str, Any]:
        p = pod(ns, name, name, sidecar=sidecar, port=8080)
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
                "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": p["metadata"], "spec": p["spec"]}}}  # fmt: skip

    objs = [
        svc("ns", "web", 80, 8080),
        deploy("ns", "web", True),
        deploy("cli", "client", True),
        pa("ns", "default", "STRICT"),
    ]
    engine = PolicyEngine([*objs, dr("ns", "web", "web", tls="DISABLE")])
    v = engine.check("cli", "client", "web.ns", 80)
    assert (v.status, v.server_mode, v.client_mode) == ("CONFLICT", "STRICT", "DISABLE")
    assert PolicyEngine(objs).check("cli", "client", "web.ns", 80).status == "OK"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        pytest.param([pa("ns", "default", "STRICT"), dr("ns", "web", "web", tls="DISABLE", port_level=[{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}}])],
                     "no endpoint is marked", id="port-entry-gap-explained"),
        pytest.param([pa("ns", "default", "DISABLE"), pa("ns", "web", "STRICT", selector={"app": "web"})], "workload-level PeerAuthentications are not consulted",
                     id="namespace-disable-gap-explained"),
        pytest.param([], "no DestinationRule applies", id="healthy-explained"),
    ],
)  # fmt: skip
def test_gaps_are_explained(extra: list[dict[str, Any]], says: str) -> None:
    assert says in _view(extra).explanation
