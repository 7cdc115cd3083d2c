"""Edge cases of istio-semantics.md §1-3/§8 judged end to end (PolicyEngine.check), one row per rule.

Each row names the rule or gotcha it pins; every table has a healthy row. The world: Service
ns/web (port 80 -> target 8080) with one sidecar pod, and clients in cli (app=client, app=other),
in ns itself, in the root namespace and in a second root candidate (istio-config).
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.istio.dr_resolution import DestinationRuleIndex
from agent.istio.engine import PolicyEngine
from agent.istio.parse import parse_destination_rule
from agent.istio.resources import MeshConfig
from agent.istio.traffic_policy import effective_policy, endpoint_marking_mode
from tests.support.istio_builders import dr, mesh, pa, pod, svc, with_spec

FQDN = "web.ns.svc.cluster.local"
T1, T2, T3 = "2024-01-01T00:00:01Z", "2024-01-01T00:00:02Z", "2024-01-01T00:00:03Z"
WORLD = [
    svc("ns", "web", 80, 8080),
    pod("ns", "web-0", "web", port=8080),
    pod("cli", "client-0", "client"),
    pod("cli", "other-0", "other"),
    pod("ns", "local-0", "local"),
    pod("istio-system", "gw-0", "gw"),
    pod("istio-config", "cfg-0", "cfg"),
    pod("other", "o-0", "o"),
]
STRICT = pa("ns", "default", "STRICT")
AUTO_OFF = mesh(enableAutoMtls=False)


def _check(extra: list[dict[str, Any]], client: str = "cli/client-0") -> Any:
    ns, name = client.split("/")
    return PolicyEngine(WORLD + extra).check(ns, name, "web.ns", 80)


def _row(v: Any) -> tuple[str, str, str | None]:
    return v.status, v.client_mode, v.destination_rule


def _expect(
    extra: list[dict[str, Any]], want: tuple[str, str, str | None], client: str = "cli/client-0"
) -> None:
    """The check from `client` to web.ns:80 with `extra` objects gives (status, client mode, DR) `want`."""
    v = _check(extra, client)
    assert _row(v) == want, v.explanation


# -- exportTo (§1.4) and the lookup order (§1.5) ----------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "client", "want"),
    [
        pytest.param([STRICT], "cli/client-0", ("OK", "ISTIO_MUTUAL", None), id="healthy-no-dr-auto"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", export_to=["."])], "cli/client-0",
                     ("OK", "ISTIO_MUTUAL", None), id="dot-is-private-invisible-to-other-ns"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", export_to=["."])], "ns/local-0",
                     ("CONFLICT", "DISABLE", "ns/web"), id="dot-visible-in-own-ns"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", export_to=["ns"])], "cli/client-0",
                     ("OK", "ISTIO_MUTUAL", None), id="own-ns-name-is-private"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", export_to=["ns"])], "ns/local-0",
                     ("CONFLICT", "DISABLE", "ns/web"), id="own-ns-name-visible-in-own-ns"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", export_to=["cli"])], "cli/client-0",
                     ("CONFLICT", "DISABLE", "ns/web"), id="exported-to-client-ns-by-name"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", export_to=["cli"])], "ns/local-0",
                     ("OK", "ISTIO_MUTUAL", None), id="exported-only-elsewhere-invisible-in-own-ns"),
        pytest.param([STRICT, dr("ns", "a", "web", tls="DISABLE", export_to=["."], created=T1),
                      dr("ns", "b", "web", lb="RANDOM", export_to=["ns"], created=T2)], "ns/local-0",
                     ("OK", "ISTIO_MUTUAL", "ns/b"), id="dot-and-own-ns-name-are-different-sets-not-merged"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", export_to=["other", "cli"])], "cli/client-0",
                     ("CONFLICT", "DISABLE", "ns/web"), id="exportTo-list"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", export_to=[".", "other"])], "cli/client-0",
                     ("OK", "ISTIO_MUTUAL", None), id="exportTo-list-without-client-ns"),
        pytest.param([STRICT, mesh(defaultDestinationRuleExportTo=["."]), dr("ns", "web", "web", tls="DISABLE")],
                     "cli/client-0", ("OK", "ISTIO_MUTUAL", None), id="mesh-default-private-hides-omitted-exportTo"),
        pytest.param([STRICT, mesh(defaultDestinationRuleExportTo=["."]), dr("ns", "web", "web", tls="DISABLE")],
                     "ns/local-0", ("CONFLICT", "DISABLE", "ns/web"), id="mesh-default-private-still-local"),
        pytest.param([STRICT, mesh(defaultDestinationRuleExportTo=["."]), dr("ns", "web", "web", tls="DISABLE", export_to=["*"])],
                     "cli/client-0", ("CONFLICT", "DISABLE", "ns/web"), id="explicit-star-beats-mesh-default"),
        pytest.param([STRICT, mesh(defaultDestinationRuleExportTo=["."]), dr("istio-system", "mesh", "*.local", tls="DISABLE")],
                     "cli/client-0", ("OK", "ISTIO_MUTUAL", None), id="mesh-default-private-hides-root-catch-all"),
        pytest.param([STRICT, dr("ns", "exact", FQDN, tls="DISABLE", export_to=["other"]),
                      dr("ns", "wide", "*.ns.svc.cluster.local", tls="ISTIO_MUTUAL"),
                      dr("istio-system", "mesh", "*.local", tls="DISABLE")],
                     "cli/client-0", ("CONFLICT", "DISABLE", "istio-system/mesh"),
                     id="most-specific-not-exported-skips-namespace-no-fallback"),
        pytest.param([STRICT, dr("cli", "web", FQDN, lb="RANDOM"), dr("ns", "web", "web", tls="DISABLE")],
                     "cli/client-0", ("OK", "ISTIO_MUTUAL", "cli/web"), id="client-ns-dr-wins-over-service-ns"),
        pytest.param([STRICT, dr("ns", "wide", "*.local", tls="DISABLE"), dr("istio-system", "web", FQDN, tls="ISTIO_MUTUAL")],
                     "cli/client-0", ("CONFLICT", "DISABLE", "ns/wide"), id="service-ns-wildcard-beats-root-exact"),
    ],
)  # fmt: skip
def test_export_to_and_lookup(
    extra: list[dict[str, Any]], client: str, want: tuple[str, str, str | None]
) -> None:
    _expect(extra, want, client)


# -- host forms (§1.2, §1.3) ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "want"),
    [
        pytest.param([STRICT], ("OK", "ISTIO_MUTUAL", None), id="healthy"),
        pytest.param([STRICT, dr("istio-system", "mesh", "*.local", tls="DISABLE")], ("CONFLICT", "DISABLE", "istio-system/mesh"),
                     id="star-dot-local-catch-all"),
        pytest.param([STRICT, dr("ns", "ns-wide", "*.ns.svc.cluster.local", tls="DISABLE")], ("CONFLICT", "DISABLE", "ns/ns-wide"),
                     id="namespace-wildcard"),
        pytest.param([STRICT, dr("ns", "ns-wide", "*.other.svc.cluster.local", tls="DISABLE")], ("OK", "ISTIO_MUTUAL", None),
                     id="other-namespace-wildcard-no-match"),
        pytest.param([STRICT, dr("istio-system", "mesh", "*.local", tls="DISABLE"), dr("istio-system", "ns-wide", "*.ns.svc.cluster.local", tls="ISTIO_MUTUAL")],
                     ("OK", "ISTIO_MUTUAL", "istio-system/ns-wide"), id="longest-wildcard-wins"),
        pytest.param([STRICT, dr("istio-system", "any", "*", tls="DISABLE")], ("CONFLICT", "DISABLE", "istio-system/any"), id="star-matches-all"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE")], ("CONFLICT", "DISABLE", "ns/web"), id="short-host-in-dr-namespace"),
        pytest.param([STRICT, dr("cli", "web", "web", tls="DISABLE")], ("OK", "ISTIO_MUTUAL", None),
                     id="short-host-resolved-in-client-dr-namespace-misses"),
        pytest.param([STRICT, dr("ns", "web", "web.ns.svc", tls="DISABLE")], ("OK", "ISTIO_MUTUAL", None), id="dotted-partial-host-literal"),
        pytest.param([STRICT, dr("ns", "web", "*.ns", tls="DISABLE")], ("OK", "ISTIO_MUTUAL", None), id="dotted-wildcard-literal"),
    ],
)  # fmt: skip
def test_host_forms(extra: list[dict[str, Any]], want: tuple[str, str, str | None]) -> None:
    _expect(extra, want)


# -- ENABLE_ENHANCED_DESTINATIONRULE_MERGE (§1.6) --------------------------------------------------------
SUPER_A = dr("ns", "a", "web", tls="DISABLE", export_to=["cli"], created=T1)
SUPER_B = dr("ns", "b", "web", lb="RANDOM", export_to=["cli", "other"], created=T2)


@pytest.mark.parametrize(
    ("extra", "client", "want"),
    [
        pytest.param([STRICT, dr("ns", "a", "web", lb="RANDOM", created=T1)], "cli/client-0", ("OK", "ISTIO_MUTUAL", "ns/a"), id="healthy-single"),
        pytest.param([STRICT, dr("ns", "a", "web", created=T1), dr("ns", "b", "web", tls="DISABLE", created=T2)],
                     "cli/client-0", ("CONFLICT", "DISABLE", "ns/a"), id="same-exportTo-merged-first-policy-from-later"),
        pytest.param([STRICT, dr("ns", "a", "web", lb="RANDOM", created=T1), dr("ns", "b", "web", tls="DISABLE", created=T2)],
                     "cli/client-0", ("OK", "ISTIO_MUTUAL", "ns/a"), id="same-exportTo-first-policy-wins-wholesale"),
        pytest.param([STRICT, dr("ns", "a", "web", lb="RANDOM", created=T1), dr("ns", "b", "web", tls="DISABLE", export_to=["*"], created=T2)],
                     "cli/client-0", ("CONFLICT", "DISABLE", "ns/b"), id="omitted-vs-star-differ-kept-separate-last-wins"),
        # Both selector-less: the code's later `bothWithoutSelector -> appendSeparately = false` wins over the
        # superset branch, so the superset DR is merged into the first and NOT kept on its own (README).
        pytest.param([STRICT, SUPER_A, SUPER_B], "cli/client-0", ("CONFLICT", "DISABLE", "ns/a"),
                     id="superset-selectorless-merged-first-policy-wins"),
        pytest.param([STRICT, SUPER_A, SUPER_B], "other/o-0", ("OK", "ISTIO_MUTUAL", None),
                     id="superset-selectorless-not-kept-separately-invisible-to-extra-ns"),
        pytest.param([STRICT, dr("ns", "a", "web", export_to=["cli"], created=T1),
                      dr("ns", "b", "web", tls="DISABLE", export_to=["cli", "other"], created=T2)],
                     "cli/client-0", ("CONFLICT", "DISABLE", "ns/a"), id="superset-policy-fills-first-without-policy"),
        pytest.param([STRICT, dr("ns", "a", "web", tls="DISABLE", export_to=["cli", "other"], created=T1),
                      dr("ns", "b", "web", lb="RANDOM", export_to=["cli"], created=T2)],
                     "cli/client-0", ("OK", "ISTIO_MUTUAL", "ns/b"), id="subset-exportTo-not-merged"),
    ],
)  # fmt: skip
def test_enhanced_merge(extra: list[dict[str, Any]], client: str, want: tuple[str, str, str | None]) -> None:
    _expect(extra, want, client)


# -- root namespace clients and a custom rootNamespace (§1.4-1.5, §2.2) ------------------------------------
ROOT_CFG = mesh(rootNamespace="istio-config")
ROOT_CFG_AUTO_OFF = mesh(rootNamespace="istio-config", enableAutoMtls=False)


@pytest.mark.parametrize(
    ("extra", "client", "want"),
    [
        pytest.param([STRICT], "istio-system/gw-0", ("OK", "ISTIO_MUTUAL", None), id="healthy-root-client"),
        pytest.param([STRICT, dr("istio-system", "mesh", "*.local", tls="DISABLE"), dr("ns", "web", "web", tls="ISTIO_MUTUAL")],
                     "istio-system/gw-0", ("OK", "ISTIO_MUTUAL", "ns/web"), id="root-public-catch-all-not-first-for-root-proxy"),
        pytest.param([STRICT, dr("istio-system", "mesh", "*.local", tls="DISABLE")],
                     "istio-system/gw-0", ("CONFLICT", "DISABLE", "istio-system/mesh"), id="root-public-catch-all-last-resort"),
        pytest.param([STRICT, dr("istio-system", "mesh", "*.local", tls="DISABLE", export_to=["."]), dr("ns", "web", "web", tls="ISTIO_MUTUAL")],
                     "istio-system/gw-0", ("CONFLICT", "DISABLE", "istio-system/mesh"), id="root-private-first-for-root-proxy"),
        pytest.param([STRICT, dr("istio-system", "mesh", "*.local", tls="DISABLE", export_to=["."])],
                     "cli/client-0", ("OK", "ISTIO_MUTUAL", None), id="root-private-invisible-elsewhere"),
        pytest.param([STRICT, mesh(defaultDestinationRuleExportTo=["."]), dr("istio-system", "mesh", "*.local", tls="DISABLE")],
                     "istio-system/gw-0", ("CONFLICT", "DISABLE", "istio-system/mesh"), id="root-omitted-exportTo-private-by-mesh-default"),
        pytest.param([STRICT, dr("istio-system", "gw", "web.ns.svc.cluster.local", tls="DISABLE", selector={"app": "gw"})],
                     "istio-system/gw-0", ("CONFLICT", "DISABLE", "istio-system/gw"), id="root-selector-dr-for-root-proxy"),
        pytest.param([STRICT, ROOT_CFG, dr("istio-config", "mesh", "*.local", tls="DISABLE")],
                     "cli/client-0", ("CONFLICT", "DISABLE", "istio-config/mesh"), id="custom-root-catch-all-applies"),
        pytest.param([STRICT, ROOT_CFG, dr("istio-system", "mesh", "*.local", tls="DISABLE")],
                     "cli/client-0", ("OK", "ISTIO_MUTUAL", None), id="istio-system-is-ordinary-under-custom-root"),
        pytest.param([STRICT, ROOT_CFG, dr("istio-config", "mesh", "*.local", tls="DISABLE", export_to=["."]), dr("ns", "web", "web", tls="ISTIO_MUTUAL")],
                     "istio-config/cfg-0", ("CONFLICT", "DISABLE", "istio-config/mesh"), id="custom-root-private-for-root-proxy"),
        pytest.param([ROOT_CFG_AUTO_OFF, pa("istio-config", "mesh", "STRICT")],
                     "cli/client-0", ("CONFLICT", "DISABLE", None), id="custom-root-mesh-pa"),
        pytest.param([ROOT_CFG_AUTO_OFF, pa("istio-system", "mesh", "STRICT")],
                     "cli/client-0", ("OK", "DISABLE", None), id="istio-system-pa-not-mesh-wide-under-custom-root"),
        pytest.param([ROOT_CFG_AUTO_OFF, pa("istio-config", "sel", "STRICT", selector={"app": "web"})],
                     "cli/client-0", ("OK", "DISABLE", None), id="custom-root-pa-with-selector-ignored"),
    ],
)  # fmt: skip
def test_root_namespace(extra: list[dict[str, Any]], client: str, want: tuple[str, str, str | None]) -> None:
    _expect(extra, want, client)


# -- workloadSelector DRs (§1.7) -------------------------------------------------------------------------
SEL_DISABLE = dr("cli", "sel", FQDN, tls="DISABLE", selector={"app": "client"}, created=T1)


@pytest.mark.parametrize(
    ("extra", "client", "want"),
    [
        pytest.param([STRICT, SEL_DISABLE], "cli/other-0", ("OK", "ISTIO_MUTUAL", None), id="healthy-selector-misses"),
        pytest.param([STRICT, SEL_DISABLE], "cli/client-0", ("CONFLICT", "DISABLE", "cli/sel"), id="selector-matches-client-labels"),
        pytest.param([STRICT, dr("ns", "sel", "web", tls="DISABLE", selector={"app": "client"})], "cli/client-0",
                     ("OK", "ISTIO_MUTUAL", None), id="selector-dr-never-exported"),
        pytest.param([STRICT, dr("cli", "sel", FQDN, tls="DISABLE", selector={"app": "client"}, export_to=["."])], "cli/client-0",
                     ("CONFLICT", "DISABLE", "cli/sel"), id="selector-dr-with-dot-exportTo"),
        pytest.param([AUTO_OFF, STRICT, SEL_DISABLE, dr("cli", "all", FQDN, tls="ISTIO_MUTUAL", created=T2)], "cli/other-0",
                     ("OK", "ISTIO_MUTUAL", "cli/all"), id="omitted-exportTo-kept-as-catch-all"),
        pytest.param([AUTO_OFF, STRICT, SEL_DISABLE, dr("cli", "all", FQDN, tls="ISTIO_MUTUAL", export_to=["."], created=T2)], "cli/other-0",
                     ("CONFLICT", "DISABLE", None), id="dot-exportTo-absorbed-no-catch-all-left"),
        pytest.param([AUTO_OFF, STRICT, SEL_DISABLE, dr("ns", "web", "web", tls="ISTIO_MUTUAL")], "cli/other-0",
                     ("CONFLICT", "DISABLE", None), id="client-ns-selector-only-host-hides-service-ns-dr"),
        pytest.param([STRICT, dr("cli", "sel", FQDN, selector={"app": "client"}, created=T1),
                      dr("cli", "all", FQDN, tls="DISABLE", export_to=[".", "other"], created=T2)], "cli/client-0",
                     ("CONFLICT", "DISABLE", "cli/sel"), id="superset-absorbed-policy-into-selector-dr"),
        pytest.param([STRICT, dr("cli", "sel", FQDN, selector={"app": "client"}, created=T1),
                      dr("cli", "all", FQDN, tls="DISABLE", created=T2)], "cli/client-0",
                     ("OK", "ISTIO_MUTUAL", "cli/sel"), id="omitted-exportTo-not-absorbed"),
        pytest.param([STRICT, dr("cli", "all", FQDN, tls="ISTIO_MUTUAL", created=T1),
                      dr("cli", "sel", FQDN, tls="DISABLE", selector={"app": "client"}, created=T2)], "cli/client-0",
                     ("CONFLICT", "DISABLE", "cli/sel"), id="selector-dr-sorted-first-despite-newer"),
    ],
)  # fmt: skip
def test_workload_selector(
    extra: list[dict[str, Any]], client: str, want: tuple[str, str, str | None]
) -> None:
    _expect(extra, want, client)


# -- port-level settings keyed by SERVICE port, the EDS marking gap, subsets (§1.8, §3.2, §8) ----------------
PL = [{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}}]


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        pytest.param([STRICT, dr("ns", "web", "web", tls="ISTIO_MUTUAL", port_level=PL)], ("OK", "ISTIO_MUTUAL", "ns/web"),
                     id="healthy-port-entry-without-tls-under-istio-mutual"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE", port_level=PL)], ("CONFLICT", "DISABLE", "ns/web"),
                     id="gap-top-disable-port-entry-without-tls-unmarked"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="SIMPLE", port_level=PL)], ("CONFLICT", "DISABLE", "ns/web"),
                     id="gap-top-simple-port-entry-without-tls-unmarked"),
        pytest.param([STRICT, pa("ns", "web", "DISABLE", selector={"app": "web"}), dr("ns", "web", "web", tls="ISTIO_MUTUAL", port_level=PL)],
                     ("CONFLICT", "ISTIO_MUTUAL", "ns/web"), id="gap-top-istio-mutual-marks-even-a-disable-workload"),
        pytest.param([STRICT, pa("ns", "web", "STRICT", selector={"app": "web"}, ports={8080: "DISABLE"}),
                      dr("ns", "web", "web", tls="ISTIO_MUTUAL", port_level=PL)],
                     ("CONFLICT", "ISTIO_MUTUAL", "ns/web"), id="gap-top-istio-mutual-marking-ignores-pa-port-level"),
        pytest.param([STRICT, dr("ns", "web", "web", port_level=[{"port": {"number": 8080}, "tls": {"mode": "DISABLE"}}])],
                     ("OK", "ISTIO_MUTUAL", "ns/web"), id="port-entry-for-target-port-ignored"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="ISTIO_MUTUAL", subsets=[{"name": "v1", "labels": {"app": "web"},
                                                                                "trafficPolicy": {"tls": {"mode": "DISABLE"}}}])],
                     ("OK", "ISTIO_MUTUAL", "ns/web"), id="subset-tls-does-not-touch-default-cluster"),
    ],
)  # fmt: skip
def test_port_level_and_marking(extra: list[dict[str, Any]], want: tuple[str, str, str | None]) -> None:
    _expect(extra, want)


def test_subset_tls_is_reported_for_routed_traffic() -> None:
    sub = {"name": "v1", "labels": {"app": "web"}, "trafficPolicy": {"tls": {"mode": "DISABLE"}}}
    v = _check([STRICT, dr("ns", "web", "web", subsets=[sub])])
    assert v.status == "OK"
    assert "subset v1" in v.explanation and "CONFLICT" in v.explanation


# -- PeerAuthentication composition end to end (§2.2, §2.4, §3.2) ----------------------------------------------
WL = {"app": "web"}


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        pytest.param([], ("OK", "ISTIO_MUTUAL", "PERMISSIVE", None), id="healthy-no-pa-permissive"),
        pytest.param([pa("istio-system", "m", "STRICT"), pa("ns", "n", "PERMISSIVE"), pa("ns", "w", "STRICT", selector=WL)],
                     ("OK", "ISTIO_MUTUAL", "STRICT", "ns/w"), id="workload-beats-namespace-beats-mesh"),
        pytest.param([pa("istio-system", "m", "STRICT"), pa("ns", "n", "UNSET"), pa("ns", "w", "UNSET", selector=WL)],
                     ("OK", "ISTIO_MUTUAL", "STRICT", "istio-system/m"), id="unset-inherits-up-to-mesh"),
        pytest.param([pa("ns", "n", "DISABLE"), pa("ns", "w", "STRICT", selector=WL)],
                     ("CONFLICT", "DISABLE", "STRICT", "ns/w"), id="namespace-disable-workload-strict-auto-gap"),
        pytest.param([pa("ns", "n", "DISABLE"), pa("ns", "w", "PERMISSIVE", selector=WL)],
                     ("OK", "DISABLE", "PERMISSIVE", "ns/w"), id="namespace-disable-workload-permissive-ok"),
        pytest.param([pa("istio-system", "m", "DISABLE"), pa("ns", "w", "STRICT", selector=WL)],
                     ("CONFLICT", "DISABLE", "STRICT", "ns/w"), id="mesh-disable-workload-strict-auto-gap"),
        pytest.param([pa("ns", "new", "STRICT", selector=WL, created=T2), pa("ns", "old", "DISABLE", selector=WL, created=T1)],
                     ("OK", "DISABLE", "DISABLE", "ns/old"), id="oldest-workload-pa-wins"),
        pytest.param([pa("ns", "b", "STRICT", created=T1), pa("ns", "a", "DISABLE", created=T1)],
                     ("OK", "DISABLE", "DISABLE", "ns/a"), id="same-timestamp-name-order"),
        pytest.param([pa("istio-system", "sel", "STRICT", selector=WL)],
                     ("OK", "ISTIO_MUTUAL", "PERMISSIVE", None), id="root-pa-with-selector-ignored"),
        pytest.param([pa("ns", "n", "STRICT"), pa("ns", "w", selector=WL, ports={8080: "DISABLE"})],
                     ("OK", "DISABLE", "DISABLE", "ns/w"), id="port-level-by-target-port-marks-endpoint-plaintext"),
        pytest.param([pa("ns", "n", "STRICT"), pa("ns", "w", selector=WL, ports={80: "DISABLE"})],
                     ("OK", "ISTIO_MUTUAL", "STRICT", "ns/n"), id="port-level-service-port-key-ignored"),
        pytest.param([pa("ns", "n", "STRICT"), pa("ns", "w", selector=WL, ports={8080: "PERMISSIVE"}, created=T2),
                      pa("ns", "w0", "STRICT", selector=WL, created=T1)],
                     ("OK", "ISTIO_MUTUAL", "STRICT", "ns/w0"), id="port-level-only-from-the-chosen-workload-pa"),
        pytest.param([pa("ns", "n", "STRICT", selector={})], ("OK", "ISTIO_MUTUAL", "STRICT", "ns/n"), id="empty-matchLabels-is-namespace-level"),
    ],
)  # fmt: skip
def test_peer_authentication_composition(
    extra: list[dict[str, Any]], want: tuple[str, str, str, str | None]
) -> None:
    v = _check(extra)
    assert (v.status, v.client_mode, v.server_mode, v.peer_authentication) == want, v.explanation


# -- named targetPorts (container port names) ---------------------------------------------------------------------
def _named_world(pa_ports: dict[int, str | None]) -> PolicyEngine:
    service = svc("ns", "api", 80, "http-api")
    server = pod("ns", "api-0", "api", port=9000)
    server["spec"]["containers"][0]["ports"] = [{"name": "http-api", "containerPort": 9000}]
    return PolicyEngine([service, server, pod("cli", "client-0", "client"), pa("ns", "n", "STRICT"),
                         pa("ns", "w", selector={"app": "api"}, ports=pa_ports),
                         dr("cli", "api", "api.ns.svc.cluster.local", tls="DISABLE")])  # fmt: skip


@pytest.mark.parametrize(
    ("pa_ports", "want"),
    [
        pytest.param(
            {9000: "PERMISSIVE"}, ("OK", "PERMISSIVE"), id="named-target-port-resolved-from-container-port"
        ),
        pytest.param({80: "PERMISSIVE"}, ("CONFLICT", "STRICT"), id="service-port-is-not-the-pa-key"),
    ],
)
def test_named_target_port(pa_ports: dict[int, str | None], want: tuple[str, str]) -> None:
    v = _named_world(pa_ports).check("cli", "client-0", "api.ns", 80)
    assert (v.status, v.server_mode) == want, v.explanation
    assert "target port 9000" in v.explanation


# -- legacy v1alpha1 Policy/MeshPolicy (§2.5) ------------------------------------------------------------------------
def _legacy(kind: str, ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name} if kind == "MeshPolicy" else {"name": name, "namespace": ns}
    return {"apiVersion": "authentication.istio.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


MESH_STRICT = _legacy("MeshPolicy", "", "default", {"peers": [{"mtls": {}}]})
MUTUAL_ALL = dr("istio-system", "default", "*.local", tls="ISTIO_MUTUAL")


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        pytest.param([MESH_STRICT, MUTUAL_ALL], ("OK", "ISTIO_MUTUAL", "STRICT"), id="healthy-helm-1.3-mesh-mtls"),
        pytest.param([MESH_STRICT], ("CONFLICT", "DISABLE", "STRICT"), id="peers-mtls-empty-is-strict-auto-off-by-default"),
        pytest.param([_legacy("MeshPolicy", "", "default", {"peers": [{"mtls": {"mode": "PERMISSIVE"}}]})],
                     ("OK", "DISABLE", "PERMISSIVE"), id="mtls-mode-permissive"),
        pytest.param([MESH_STRICT, _legacy("Policy", "ns", "default", {"peers": [{"mtls": {"mode": "PERMISSIVE"}}]})],
                     ("OK", "DISABLE", "PERMISSIVE"), id="namespace-policy-beats-meshpolicy"),
        pytest.param([_legacy("Policy", "ns", "web", {"targets": [{"name": "web", "ports": [{"number": 80}]}], "peers": [{"mtls": {}}]})],
                     ("CONFLICT", "DISABLE", "STRICT"), id="targets-with-service-port"),
        pytest.param([_legacy("Policy", "ns", "web", {"targets": [{"name": "web", "ports": [{"number": 81}]}], "peers": [{"mtls": {}}]})],
                     ("OK", "DISABLE", "DISABLE"), id="targets-other-port-no-policy-plaintext"),
        pytest.param([_legacy("Policy", "other", "default", {"peers": [{"mtls": {}}]}), MUTUAL_ALL],
                     ("CONFLICT", "ISTIO_MUTUAL", "DISABLE"), id="no-policy-for-namespace-is-plaintext"),
        pytest.param([MESH_STRICT, mesh(enableAutoMtls=True)], ("CONFLICT", "DISABLE", "STRICT"),
                     id="auto-on-cannot-mark-pods-without-tlsMode-label"),
    ],
)  # fmt: skip
def test_legacy_policies(extra: list[dict[str, Any]], want: tuple[str, str, str]) -> None:
    world = [
        svc("ns", "web", 80, 8080),
        pod("ns", "web-0", "web", port=8080),
        pod("cli", "client-0", "client"),
    ]
    for p in world[1:]:  # 1.3-era pods: istio-proxy container, no tlsMode label
        p["metadata"]["labels"].pop("security.istio.io/tlsMode")
    v = PolicyEngine(world + extra).check("cli", "client-0", "web.ns", 80)
    assert (v.status, v.client_mode, v.server_mode) == want, v.explanation


# -- headless / PASSTHROUGH services (BestEffortInferServiceMTLSMode, §3.2) ----------------------------------------
def _headless(extra: list[dict[str, Any]], naked: bool) -> Any:
    world = [
        svc("ns", "db", 5432, clusterIP="None"),
        pod("ns", "db-0", "db", port=5432),
        pod("cli", "client-0", "client"),
    ]
    if naked:
        world.append(pod("ns", "db-1", "db", sidecar=False, port=5432))
    return PolicyEngine(world + extra).check("cli", "client-0", "db.ns", 5432)


@pytest.mark.parametrize(
    ("extra", "naked", "want"),
    [
        pytest.param([STRICT], False, ("OK", "ISTIO_MUTUAL"), id="healthy-headless-all-sidecars"),
        pytest.param([], True, ("OK", "DISABLE"), id="headless-with-naked-endpoint-plaintext-to-permissive"),
        pytest.param([STRICT], True, ("CONFLICT", "DISABLE"), id="headless-with-naked-endpoint-plaintext-to-strict"),
    ],
)  # fmt: skip
def test_headless(extra: list[dict[str, Any]], naked: bool, want: tuple[str, str]) -> None:
    v = _headless(extra, naked)
    assert (v.status, v.client_mode) == want, v.explanation


def test_passthrough_lb_with_naked_endpoint_is_plaintext() -> None:
    world = [
        svc("ns", "web", 80, 8080),
        pod("ns", "web-0", "web", port=8080),
        pod("ns", "web-1", "web", sidecar=False, port=8080),
    ]
    lb = dr("ns", "web", "web", lb="PASSTHROUGH")
    v = PolicyEngine([*world, pod("cli", "client-0", "client"), lb]).check("cli", "client-0", "web.ns", 80)
    assert (v.status, v.client_mode) == ("OK", "DISABLE"), v.explanation


# -- validation: bad objects become notes, the rest still evaluates (§1.4, §2.2) -------------------------------------
@pytest.mark.parametrize(
    ("bad", "note_has"),
    [
        pytest.param(pa("ns", "p", "strict"), "spec.mtls.mode 'strict'", id="pa-mode-lower-case"),
        pytest.param(pa("ns", "p", "ENABLED"), "spec.mtls.mode 'ENABLED'", id="pa-mode-unknown"),
        pytest.param(with_spec(pa("ns", "p", "STRICT"), portLevelMtls={8080: {"mode": "DISABLE"}}), "portLevelMtls requires a selector",
                     id="port-level-without-selector"),
        pytest.param(pa("ns", "p", selector=WL, ports={8080: "OFF"}), "portLevelMtls[8080].mode", id="port-level-bad-mode"),
        pytest.param(dr("ns", "d", "web", tls="DISABLE", export_to=["*", "cli"]), "'*' cannot be combined", id="exportTo-star-with-name"),
        pytest.param(dr("ns", "d", "web", tls="DISABLE", export_to=["Bad_NS"]), "not '.', '*' or a namespace", id="exportTo-bad-name"),
        pytest.param(with_spec(dr("ns", "d", "web", tls="DISABLE"), exportTo="cli"), "spec.exportTo must be a list", id="exportTo-not-a-list"),
        pytest.param(with_spec(dr("ns", "d", "web", tls="DISABLE"), host=None), "spec.host is required", id="dr-without-host"),
        pytest.param(dr("ns", "d", "web", tls="istio_mutual"), "tls.mode 'istio_mutual'", id="dr-tls-mode-lower-case"),
        pytest.param(with_spec(dr("ns", "d", "web"), trafficPolicy={"portLevelSettings": {"port": 80}}), "portLevelSettings must be a list",
                     id="port-level-settings-not-a-list"),
        pytest.param(with_spec(dr("ns", "d", "web"), subsets={"name": "v1"}), "spec.subsets must be a list", id="subsets-not-a-list"),
        pytest.param(with_spec(pa("ns", "p"), mtls="STRICT"), "spec.mtls must be a mapping", id="pa-mtls-not-a-mapping"),
        pytest.param(with_spec(pa("ns", "p", selector=WL), portLevelMtls=[8080]), "portLevelMtls must be a map", id="port-level-mtls-not-a-map"),
        pytest.param(mesh(enableAutoMtls="false"), "enableAutoMtls must be true or false", id="mesh-auto-mtls-string"),
        pytest.param(mesh(rootNamespace=["x"]), "rootNamespace", id="mesh-root-not-a-name"),
        pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
                      "data": {"mesh": "rootNamespace: [unclosed"}}, "not valid YAML", id="mesh-yaml-broken"),
    ],
)  # fmt: skip
def test_invalid_objects_are_notes_and_the_rest_evaluates(bad: dict[str, Any], note_has: str) -> None:
    engine = PolicyEngine([*WORLD, STRICT, bad])
    assert any(note_has in n for n in engine.notes), engine.notes
    v = engine.check("cli", "client-0", "web.ns", 80)
    assert _row(v) == ("OK", "ISTIO_MUTUAL", None), v.explanation


def test_two_mesh_configs_are_noted() -> None:
    engine = PolicyEngine([*WORLD, mesh(rootNamespace="istio-config"), mesh(enableAutoMtls=False)])
    assert any("more than one mesh config" in n for n in engine.notes), engine.notes


# -- the istio-proxy container is the sidecar; the tlsMode label only drives auto-mTLS marking (§3.2, §3.3 c) --------
def _unlabelled(name: str) -> dict[str, Any]:
    p = pod("ns", name, "web", port=8080)
    p["metadata"]["labels"].pop("security.istio.io/tlsMode")
    return p


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        pytest.param([pa("ns", "default", "PERMISSIVE"), _unlabelled("web-1")], ("OK", "ISTIO_MUTUAL", "PERMISSIVE"),
                     id="healthy-stale-label-permissive"),
        pytest.param([STRICT, _unlabelled("web-1")], ("CONFLICT", "DISABLE", "STRICT"),
                     id="stale-label-endpoint-unmarked-plaintext-to-strict"),
        pytest.param([STRICT, dr("ns", "web", "web", tls="DISABLE"), _unlabelled("web-1")], ("CONFLICT", "DISABLE", "STRICT"),
                     id="unlabelled-proxy-still-enforces-pa"),
    ],
)  # fmt: skip
def test_sidecar_without_tls_mode_label(extra: list[dict[str, Any]], want: tuple[str, str, str]) -> None:
    v = PolicyEngine(WORLD + extra).check("cli", "client-0", "web.ns", 80)
    assert (v.status, v.client_mode, v.server_mode) == want, v.explanation


def test_no_label_anywhere_and_no_policy_is_a_pre_1_4_mesh() -> None:
    objs = [svc("ns", "web", 80, 8080), _unlabelled("web-0"), pod("cli", "client-0", "client"),
            dr("ns", "web", "web", tls="ISTIO_MUTUAL")]  # fmt: skip
    objs[2]["metadata"]["labels"].pop("security.istio.io/tlsMode")
    engine = PolicyEngine(objs)
    assert any("pre-1.4 mesh" in n for n in engine.notes), engine.notes
    v = engine.check("cli", "client-0", "web.ns", 80)
    assert (v.status, v.client_mode, v.server_mode) == ("CONFLICT", "ISTIO_MUTUAL", "DISABLE"), v.explanation


def test_headless_with_unlabelled_sidecar_endpoint_infers_disable() -> None:
    """BestEffortInferServiceMTLSMode reads the endpoint's tlsMode label: an unlabelled sidecar makes it DISABLE."""
    world = [
        svc("ns", "db", 5432, clusterIP="None"),
        pod("ns", "db-0", "db", port=5432),
        pod("cli", "client-0", "client"),
    ]
    stale = pod("ns", "db-1", "db", port=5432)
    stale["metadata"]["labels"].pop("security.istio.io/tlsMode")
    v = PolicyEngine([*world, stale, pa("ns", "default", "PERMISSIVE")]).check(
        "cli", "client-0", "db.ns", 5432
    )
    assert (v.status, v.client_mode, v.client_mode_source) == ("OK", "DISABLE", "auto"), v.explanation


@pytest.mark.parametrize(
    ("lb_where", "want"),
    [
        pytest.param("none", ("OK", "ISTIO_MUTUAL"), id="healthy-auto-per-endpoint"),
        pytest.param("top", ("CONFLICT", "DISABLE"), id="top-level-passthrough-infers-disable-plaintext-to-strict"),
        # the port entry still makes the cluster ORIGINAL_DST (plain mTLS to all), but the inference ignores it
        pytest.param("port", ("CONFLICT", "ISTIO_MUTUAL"), id="port-level-passthrough-not-consulted-mtls-to-naked-endpoint"),
    ],
)  # fmt: skip
def test_passthrough_lb_is_read_from_the_top_level(lb_where: str, want: tuple[str, str]) -> None:
    """BestEffortInferServiceMTLSMode(destinationRule.GetTrafficPolicy(), ...) sees only the top-level loadBalancer."""
    world = [svc("ns", "web", 80, 8080), pod("ns", "web-0", "web", port=8080), pod("ns", "web-1", "web", sidecar=False, port=8080),
             pod("cli", "client-0", "client")]  # fmt: skip
    passthrough = {"loadBalancer": {"simple": "PASSTHROUGH"}}
    rule = dr("ns", "web", "web", lb="PASSTHROUGH" if lb_where == "top" else None)
    if lb_where == "port":
        rule = dr("ns", "web", "web", port_level=[{"port": {"number": 80}, **passthrough}])
    v = PolicyEngine([*world, STRICT, rule]).check("cli", "client-0", "web.ns", 80)
    assert (v.status, v.client_mode) == want, v.explanation


# -- traffic policy composition (§1.8: MergeTrafficPolicy, GetPortLevelTrafficPolicy, tlsModeForDestinationRule) ---
def _rule(tp: dict[str, Any], subsets: list[dict[str, Any]] | None = None) -> Any:
    obj = dr("ns", "r", "h.org", subsets=subsets)
    obj["spec"]["trafficPolicy"] = tp
    return (
        DestinationRuleIndex([parse_destination_rule(obj)], MeshConfig())
        .resolve("ns", {}, "h.org", "ns")
        .rule
    )


TOP = {
    "loadBalancer": {"simple": "LEAST_CONN"},
    "proxyProtocol": {"version": "V2"},
    "tls": {"mode": "DISABLE"},
    "portLevelSettings": [{"port": {"number": 80}, "connectionPool": {"tcp": {"maxConnections": 1}}}],
}
SUBS = [
    {"name": "plain", "labels": {"v": "1"}},
    {"name": "own", "labels": {"v": "2"}, "trafficPolicy": {"tunnel": {"targetHost": "t"}, "tls": {"mode": "ISTIO_MUTUAL"}}},
    {"name": "own-port", "labels": {"v": "3"},
     "trafficPolicy": {"tunnel": {"targetHost": "t"}, "loadBalancer": {"simple": "RANDOM"},
                       "portLevelSettings": [{"port": {"number": 80}, "outlierDetection": {"consecutive5xxErrors": 2}}]}},
]  # fmt: skip


@pytest.mark.parametrize(
    ("port", "subset", "want_keys", "where", "marking"),
    [
        pytest.param(81, None, {"loadBalancer", "proxyProtocol", "tls"}, "top", "DISABLE", id="healthy-top-level"),
        pytest.param(80, None, {"connectionPool", "proxyProtocol"}, "port", "DISABLE", id="port-entry-replaces-four-keeps-proxyProtocol"),
        pytest.param(81, "plain", {"loadBalancer", "proxyProtocol", "tls"}, "top", None, id="subset-without-policy-marking-has-no-fallback"),
        pytest.param(81, "own", {"loadBalancer", "proxyProtocol", "tls", "tunnel"}, "subset", "ISTIO_MUTUAL", id="subset-overlays-its-components"),
        pytest.param(80, "own-port", {"proxyProtocol", "tunnel", "outlierDetection"}, "subset-port", None,
                     id="subset-port-entry-replaces-four-after-overlay"),
    ],
)  # fmt: skip
def test_traffic_policy_composition(
    port: int, subset: str | None, want_keys: set[str], where: str, marking: str | None
) -> None:
    rule = _rule(TOP, SUBS)
    policy, got_where = effective_policy(rule, port, subset)
    assert (set(policy), got_where) == (want_keys, where), policy
    assert endpoint_marking_mode(rule, port, subset) == marking


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        pytest.param([], ("OK", "ISTIO_MUTUAL", "auto"), id="healthy-headless-auto-mtls-to-all"),
        pytest.param([pa("ns", "db", "DISABLE", selector={"app": "db"})], ("CONFLICT", "ISTIO_MUTUAL", "auto"),
                     id="headless-original-dst-ignores-workload-disable"),
        pytest.param([pa("ns", "db", "DISABLE", selector={"app": "db"}), dr("ns", "db", "db", tls="DISABLE")],
                     ("OK", "DISABLE", "destination_rule"), id="headless-explicit-dr-disable-fixes-it"),
    ],
)  # fmt: skip
def test_original_dst_auto_mtls_is_not_per_endpoint(
    extra: list[dict[str, Any]], want: tuple[str, str, str]
) -> None:
    """§3.2: ORIGINAL_DST clusters get a plain transport_socket instead of transport_socket_matches."""
    world = [
        svc("ns", "db", 5432, clusterIP="None"),
        pod("ns", "db-0", "db", port=5432),
        pod("cli", "client-0", "client"),
    ]
    v = PolicyEngine([*world, *extra]).check("cli", "client-0", "db.ns", 5432)
    assert (v.status, v.client_mode, v.client_mode_source) == want, v.explanation
