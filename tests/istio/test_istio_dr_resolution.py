"""DestinationRule resolution, table-driven from Istio's own unit tests (see istio-semantics.md §1)."""

from __future__ import annotations

import pytest

from agent.istio.dr_resolution import DestinationRuleIndex, most_specific_host, resolve_short_host
from agent.istio.parse import parse_destination_rule
from agent.istio.resources import MeshConfig
from agent.istio.traffic_policy import effective_policy, endpoint_marking_mode
from tests.support.istio_builders import dr


@pytest.mark.parametrize(
    ("host", "ns", "want"),
    [
        pytest.param("reviews", "default", "reviews.default.svc.cluster.local", id="short-in-dr-namespace"),
        pytest.param("reviews.bookinfo", "default", "reviews.bookinfo", id="dotted-is-literal"),
        pytest.param("foo.bar", "default", "foo.bar", id="foo.bar-literal"),
        pytest.param("*", "default", "*", id="star-stays"),
        pytest.param("*.foo.com", "default", "*.foo.com", id="wildcard-stays"),
        pytest.param("10.0.0.1", "default", "10.0.0.1", id="ipv4-stays"),
        pytest.param("::1", "default", "::1", id="ipv6-stays"),
    ],
)
def test_resolve_shortname_to_fqdn(host: str, ns: str, want: str) -> None:
    """TestResolveShortnameToFQDN."""
    assert resolve_short_host(host, ns) == want


@pytest.mark.parametrize(
    ("needle", "hosts", "want"),
    [
        pytest.param("bar.foo.com", ["*.foo.com", "*.com"], "*.foo.com", id="longest-wildcard"),
        pytest.param("foo.com", ["*.foo.com", "*.com"], "*.com", id="wildcard-not-matching-apex"),
        pytest.param("foo.bar.com", ["*.bar.com", "foo.bar.com"], "foo.bar.com", id="exact-beats-wildcard"),
        pytest.param("x.y", ["*"], "*", id="star-matches-all"),
        pytest.param("*.foo.com", ["bar.foo.com"], None, id="non-wildcard-never-matches-wildcard-needle"),
        pytest.param("a.b", ["c.d"], None, id="no-match"),
    ],
)
def test_most_specific_host_match(needle: str, hosts: list[str], want: str | None) -> None:
    """TestMostSpecificHostMatch."""
    assert most_specific_host(needle, hosts) == want


EXPORT_TO_RULES = [
    dr("test1", "rule1", "httpbin.org", export_to=[".", "ns1"]),
    dr("test2", "rule2", "httpbin.org", export_to=["test2", "ns1", "test1", "newns"]),
    dr(
        "test3", "rule3", "httpbin.org", export_to=["*"]
    ),  # Istio's table has [test1,test2,*]: validation rejects mixing *
    dr("test4", "rule4-local", "httpbin.org", export_to=["test4"]),
    dr("istio-system", "rule4", "httpbin.org"),
    dr("istio-system", "rule1", "httpbin.org", export_to=["."]),
    dr("istio-system", "rule2", "*.org", export_to=["."]),
    dr("istio-system", "rule3", "*.app.org", export_to=["."]),
    dr("test5", "rule5", "api.test.com", export_to=["istio-system"]),
    dr("test6", "rule6", "api.test.com", export_to=["istio-system"]),
]


def _index(objs: list[dict[str, object]], **mesh: object) -> DestinationRuleIndex:
    return DestinationRuleIndex([parse_destination_rule(o) for o in objs], MeshConfig(**mesh))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("client_ns", "svc_ns", "host", "want"),
    [
        pytest.param("test1", "test1", "httpbin.org", "test1/rule1", id="client-ns"),
        pytest.param("test1", "test2", "httpbin.org", "test1/rule1", id="client-ns-beats-exported-svc-ns"),
        pytest.param("test2", "test1", "httpbin.org", "test2/rule2", id="client-ns-2"),
        pytest.param(
            "newns",
            "test2",
            "httpbin.org",
            "test2/rule2",
            id="svc-ns-exported-to-client(newNS-lowercased:validation-rejects-uppercase)",
        ),
        pytest.param("test3", "test1", "httpbin.org", "test3/rule3", id="client-ns-3"),
        pytest.param(
            "test5", "test4", "httpbin.org", "istio-system/rule4", id="svc-ns-not-exported-falls-to-root"
        ),
        pytest.param("ns1", "test1", "httpbin.org", "test1/rule1", id="svc-ns-exported-to-ns1"),
        pytest.param("ns1", "random", "httpbin.org", "istio-system/rule4", id="root-public"),
        pytest.param("random", "random", "httpbin.org", "istio-system/rule4", id="root-public-2"),
        pytest.param(
            "istio-system", "random", "httpbin.org", "istio-system/rule1", id="root-proxy-private-exact"
        ),
        pytest.param(
            "istio-system", "istio-system", "httpbin.org", "istio-system/rule1", id="root-proxy-own"
        ),
        pytest.param(
            "istio-system", "istio-system", "foo.app.org", "istio-system/rule3", id="root-longest-wildcard"
        ),
        pytest.param("istio-system", "test5", "api.test.com", "test5/rule5", id="svc-ns-exported-to-root-5"),
        pytest.param("istio-system", "test6", "api.test.com", "test6/rule6", id="svc-ns-exported-to-root-6"),
        pytest.param("istio-system", "test7", "api.test.com", None, id="none"),
    ],
)
def test_set_destination_rule_with_export_to(
    client_ns: str, svc_ns: str, host: str, want: str | None
) -> None:
    """TestSetDestinationRuleWithExportTo."""
    got = _index(EXPORT_TO_RULES).resolve(client_ns, {}, host, svc_ns).rule
    assert (got.ref if got else None) == want


def test_most_specific_not_exported_does_not_fall_back() -> None:
    rules = [
        dr("svc", "exact", "a.svc.svc.cluster.local", export_to=["other"]),
        dr("svc", "wide", "*.svc.cluster.local"),
    ]
    res = _index(rules).resolve("client", {}, "a.svc.svc.cluster.local", "svc")
    assert res.rule is None
    assert any("not exported" in s for s in res.steps)


@pytest.mark.parametrize(
    ("client_ns", "labels", "want", "subsets"),
    [
        pytest.param("test", {"app": "app1"}, "test/nsRule1", ["a1", "b1"], id="selector-app1"),
        pytest.param("test", {"app": "app2"}, "test/nsRule2", ["a2", "b2", "c"], id="selector-app2-merged"),
        pytest.param("test", {"app": "other"}, "test/nsRule4", ["c"], id="catch-all"),
        pytest.param("test2", {"app": "app1"}, "test/nsRule4", ["c"], id="selector-dr-not-exported"),
    ],
)
def test_workload_selector(client_ns: str, labels: dict[str, str], want: str, subsets: list[str]) -> None:
    """TestSetDestinationRuleWithWorkloadSelector (subsets abbreviated)."""
    rules = [
        dr("test", "nsRule1", "httpbin.org", selector={"app": "app1"}, subsets=[{"name": "a1"}, {"name": "b1"}], created="2024-01-01T00:00:01Z"),
        dr("test", "nsRule2", "httpbin.org", selector={"app": "app2"}, subsets=[{"name": "a2"}], created="2024-01-01T00:00:02Z"),
        dr("test", "nsRule3", "httpbin.org", selector={"app": "app2"}, subsets=[{"name": "b2"}], created="2024-01-01T00:00:03Z"),
        dr("test", "nsRule4", "httpbin.org", export_to=[".", "test2"], subsets=[{"name": "c"}], created="2024-01-01T00:00:04Z"),
    ]  # fmt: skip
    got = _index(rules).resolve(client_ns, labels, "httpbin.org", "test").rule
    assert got is not None and got.ref == want
    if want != "test/nsRule1":
        assert [s["name"] for s in got.subsets] == subsets


@pytest.mark.parametrize(
    ("rules", "want_tp_lb", "want_subsets", "want_sources"),
    [
        pytest.param(
            [dr("test", "rule1", "h.org", subsets=[{"name": "s1"}, {"name": "dup"}]),
             dr("test", "rule2", "h.org", lb="ROUND_ROBIN", subsets=[{"name": "s2"}, {"name": "dup"}])],
            "ROUND_ROBIN", ["s1", "dup", "s2"], ["test/rule1", "test/rule2"], id="merge-subsets-first-policy",
        ),
        pytest.param(
            [dr("test", "rule1", "h.org", lb="LEAST_CONN"), dr("test", "rule2", "h.org", lb="RANDOM")],
            "LEAST_CONN", [], ["test/rule1", "test/rule2"], id="first-traffic-policy-wins",
        ),
        pytest.param(
            [dr("test", "rule1", "h.org", lb="LEAST_CONN"), dr("test", "rule3", "h.org", lb="RANDOM", export_to=["istio-system"])],
            "LEAST_CONN", [], ["test/rule1"], id="different-exportTo-not-merged",
        ),
    ],
)  # fmt: skip
def test_set_destination_rule_merging(
    rules: list[dict[str, object]], want_tp_lb: str, want_subsets: list[str], want_sources: list[str]
) -> None:
    """TestSetDestinationRuleMerging."""
    got = _index(rules).resolve("test", {}, "h.org", "test").rule
    assert got is not None
    assert (got.traffic_policy or {}).get("loadBalancer", {}).get("simple") == want_tp_lb
    assert [s["name"] for s in got.subsets] == want_subsets
    assert got.sources == want_sources


def test_no_inheritance_across_namespaces() -> None:
    rules = [
        dr("istio-system", "default", "*.local", tls="ISTIO_MUTUAL"),
        dr("client", "reviews", "reviews.default.svc.cluster.local", lb="RANDOM"),
    ]
    got = _index(rules).resolve("client", {}, "reviews.default.svc.cluster.local", "default").rule
    assert got is not None and got.ref == "client/reviews"
    assert effective_policy(got, 9080, None)[0].get("tls") is None


PORTS = [
    {"port": {"number": 9080}, "loadBalancer": {"simple": "RANDOM"}},
    {"port": {"number": 9443}, "tls": {"mode": "SIMPLE"}},
]


@pytest.mark.parametrize(
    ("port", "subset", "want_tls", "want_lb", "where", "marking"),
    [
        pytest.param(8080, None, "DISABLE", "LEAST_CONN", "top", "DISABLE", id="top-level"),
        pytest.param(9080, None, None, "RANDOM", "port", "DISABLE", id="port-entry-replaces-wholesale-gap"),
        pytest.param(9443, None, "SIMPLE", None, "port", "SIMPLE", id="port-entry-tls"),
        pytest.param(
            8080, "v1", "ISTIO_MUTUAL", "LEAST_CONN", "subset", "ISTIO_MUTUAL", id="subset-overrides-tls"
        ),
    ],
)
def test_port_level_and_subset_policy(
    port: int, subset: str | None, want_tls: str | None, want_lb: str | None, where: str, marking: str
) -> None:
    rule_obj = dr("ns", "r", "h.org", tls="DISABLE", lb="LEAST_CONN", port_level=PORTS,
                  subsets=[{"name": "v1", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}])  # fmt: skip
    rule = _index([rule_obj]).resolve("ns", {}, "h.org", "ns").rule
    policy, got_where = effective_policy(rule, port, subset)
    assert (policy.get("tls") or {}).get("mode") == want_tls
    assert (policy.get("loadBalancer") or {}).get("simple") == want_lb
    assert got_where == where
    assert endpoint_marking_mode(rule, port, subset) == marking
