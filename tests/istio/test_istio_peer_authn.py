"""PeerAuthentication composition and legacy v1alpha1 policy, table-driven (istio-semantics.md §2)."""

from __future__ import annotations

from typing import Any

import pytest

from agent.istio.parse import parse_legacy_policy, parse_peer_authentication
from agent.istio.peer_authn import compose, legacy_mode, namespace_mode
from agent.istio.resources import Service, ServicePort
from tests.support.istio_builders import pa

NOW, EARLIER = "2024-01-01T00:00:10Z", "2024-01-01T00:00:09Z"
ROOT, NS = "istio-system", "foo"
WL = {"app": "httpbin", "version": "v1"}


def _compose(objs: list[dict[str, Any]], port: int | None = 80) -> tuple[str, str | None]:
    got = compose([parse_peer_authentication(o) for o in objs], ROOT, NS, WL, port)
    return got.mode, got.peer_authentication


@pytest.mark.parametrize(
    ("objs", "port", "want_mode", "want_ref"),
    [
        pytest.param([], 80, "PERMISSIVE", None, id="no-config-permissive"),
        pytest.param([pa(ROOT, "mesh", "STRICT")], 80, "STRICT", "istio-system/mesh", id="mesh-strict"),
        pytest.param([pa(ROOT, "mesh", "STRICT"), pa(NS, "ns", "PERMISSIVE")], 80, "PERMISSIVE", "foo/ns", id="mesh-strict-ns-permissive"),
        pytest.param([pa(ROOT, "sel", "STRICT", selector={"app": "httpbin"})], 80, "PERMISSIVE", None, id="ignore-selector-in-root-ns"),
        pytest.param([pa(NS, "ns"), pa(NS, "wl", selector=WL)], 80, "PERMISSIVE", None, id="ns-empty-workload-empty"),
        pytest.param([pa(ROOT, "mesh", "DISABLE"), pa(NS, "ns", "PERMISSIVE")], 80, "PERMISSIVE", "foo/ns", id="ns-permissive-mesh-disable"),
        pytest.param([pa(ROOT, "a", "DISABLE", created=NOW), pa(ROOT, "b", "PERMISSIVE", created=EARLIER), pa(ROOT, "c", "STRICT", created=EARLIER)],
                     80, "PERMISSIVE", "istio-system/b", id="multiple-mesh-oldest-first"),
        pytest.param([pa(NS, "a", "DISABLE", created=NOW), pa(NS, "b", "PERMISSIVE", created=EARLIER), pa(NS, "c", "STRICT", created=EARLIER)],
                     80, "PERMISSIVE", "foo/b", id="multiple-ns-oldest-first"),
        pytest.param([pa(NS, "a", "DISABLE", selector=WL, created=NOW), pa(NS, "b", "PERMISSIVE", selector={"app": "httpbin"}, created=EARLIER),
                      pa(NS, "c", "STRICT", selector=WL, created=EARLIER)], 80, "PERMISSIVE", "foo/b", id="multiple-workload-oldest-first"),
        pytest.param([pa(ROOT, "mesh", "UNSET")], 80, "PERMISSIVE", None, id="mesh-unset"),
        pytest.param([pa(ROOT, "mesh", "STRICT"), pa(NS, "wl", "UNSET", selector=WL)], 80, "STRICT", "istio-system/mesh", id="mesh-strict-workload-unset"),
        pytest.param([pa(NS, "ns", "STRICT"), pa(NS, "wl", "UNSET", selector=WL)], 80, "STRICT", "foo/ns", id="ns-strict-workload-unset"),
        pytest.param([pa(ROOT, "mesh", "STRICT"), pa(NS, "ns", "UNSET"), pa(NS, "wl", "UNSET", selector=WL)], 80, "STRICT", "istio-system/mesh",
                     id="mesh-strict-ns-unset-workload-unset"),
        pytest.param([pa(ROOT, "mesh", "STRICT"), pa(NS, "wl", selector=WL, ports={80: "DISABLE", 90: "UNSET", 100: None})], 80, "DISABLE", "foo/wl",
                     id="port-level-80-disable"),
        pytest.param([pa(ROOT, "mesh", "STRICT"), pa(NS, "wl", selector=WL, ports={80: "DISABLE", 90: "UNSET", 100: None})], 90, "STRICT",
                     "istio-system/mesh", id="port-level-90-unset-inherits"),
        pytest.param([pa(ROOT, "mesh", "STRICT"), pa(NS, "wl", selector=WL, ports={80: "DISABLE", 90: "UNSET", 100: None})], 100, "STRICT",
                     "istio-system/mesh", id="port-level-100-empty-inherits"),
        pytest.param([pa(NS, "ns", "STRICT"), pa(NS, "other", selector={"app": "other"})], 80, "STRICT", "foo/ns", id="workload-pa-not-selecting"),
        pytest.param([pa(NS, "a", "STRICT", selector=WL, created=EARLIER), pa(NS, "b", selector=WL, ports={80: "DISABLE"}, created=NOW)], 80,
                     "STRICT", "foo/a", id="port-level-only-from-chosen-workload-pa"),
        pytest.param([pa("other", "ns", "STRICT")], 80, "PERMISSIVE", None, id="other-namespace-ignored"),
    ],
)  # fmt: skip
def test_compose_peer_authentication(
    objs: list[dict[str, Any]], port: int, want_mode: str, want_ref: str | None
) -> None:
    """TestComposePeerAuthentication (+ portLevel and selection rows)."""
    assert _compose(objs, port) == (want_mode, want_ref)


@pytest.mark.parametrize(
    ("objs", "ns", "want"),
    [
        pytest.param([], NS, "UNKNOWN", id="nothing-unknown"),
        pytest.param([pa(ROOT, "mesh", "UNSET")], NS, "PERMISSIVE", id="mesh-unset-permissive"),
        pytest.param(
            [pa(ROOT, "mesh", "STRICT"), pa(NS, "ns", "UNSET")], NS, "STRICT", id="ns-unset-inherits-mesh"
        ),
        pytest.param([pa(ROOT, "mesh", "STRICT"), pa(NS, "ns", "DISABLE")], NS, "DISABLE", id="ns-disable"),
        pytest.param(
            [pa(NS, "ns", "DISABLE"), pa(NS, "wl", "STRICT", selector=WL)],
            NS,
            "DISABLE",
            id="workload-invisible",
        ),
    ],
)
def test_namespace_mode(objs: list[dict[str, Any]], ns: str, want: str) -> None:
    """GetNamespaceMutualTLSMode (what auto mTLS consults)."""
    assert namespace_mode([parse_peer_authentication(o) for o in objs], ROOT, ns) == want


def _legacy(kind: str, ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "authentication.istio.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


SVC = Service(
    "foo",
    "my-service",
    (ServicePort(8080, 8080, "http"), ServicePort(8081, 8081, "grpc")),
    {"app": "my-service"},
)


@pytest.mark.parametrize(
    ("objs", "port", "want"),
    [
        pytest.param([], 8080, ("DISABLE", None), id="no-policy-plaintext"),
        pytest.param([_legacy("MeshPolicy", "", "default", {"peers": [{"mtls": {}}]})], 8080, ("STRICT", "default"), id="meshpolicy-mtls-empty-strict"),
        pytest.param([_legacy("MeshPolicy", "", "default", {"peers": [{"mtls": None}]})], 8080, ("STRICT", "default"), id="mtls-null-strict"),
        pytest.param([_legacy("MeshPolicy", "", "default", {"peers": [{"mtls": {"mode": "PERMISSIVE"}}]})], 8080, ("PERMISSIVE", "default"),
                     id="meshpolicy-permissive"),
        pytest.param([_legacy("MeshPolicy", "", "default", {"peers": [{"mtls": {}}]}), _legacy("Policy", "foo", "default", {})], 8080,
                     ("DISABLE", "foo/default"), id="namespace-policy-without-peers-plaintext"),
        pytest.param([_legacy("Policy", "foo", "svc", {"targets": [{"name": "my-service", "ports": [{"number": 8080}]}], "peers": [{"mtls": {}}]})],
                     8080, ("STRICT", "foo/svc"), id="service-port-policy"),
        pytest.param([_legacy("Policy", "foo", "svc", {"targets": [{"name": "my-service", "ports": [{"name": "http"}]}], "peers": [{"mtls": {}}]})],
                     8081, ("DISABLE", None), id="service-port-policy-other-port"),
    ],
)  # fmt: skip
def test_legacy_policy(objs: list[dict[str, Any]], port: int, want: tuple[str, str | None]) -> None:
    """v1alpha1 GetMutualTLSMode / AuthenticationPolicyForWorkload (1.4)."""
    got = legacy_mode([parse_legacy_policy(o) for o in objs], "foo", SVC, port)
    assert (got.mode, got.peer_authentication) == want
