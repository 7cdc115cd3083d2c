"""The cluster domain: read from the sidecars' `--domain` argument (or configured), and Services and
DestinationRule hosts under it resolve as under cluster.local (issue 14, item 6). Pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from agent.istio.dr_resolution import canonical_host, display_host
from agent.istio.engine import PolicyEngine
from agent.istio.mesh import cluster_domain_of
from tests.support.istio_builders import dr, pa, pod, svc


def _proxy_pod(args: list[str], *, native: bool = False) -> dict[str, Any]:
    proxy = {"name": "istio-proxy", "args": args}
    spec: dict[str, Any] = {"containers": [{"name": "app"}]}
    if native:
        spec["initContainers"] = [{**proxy, "restartPolicy": "Always"}]
    else:
        spec["containers"].append(proxy)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": spec}


# The injection template's args: istio/istio manifests/charts/istio-control/istio-discovery/files/
# injection-template.yaml (`- --domain` / `- $(POD_NAMESPACE).svc.{{ .Values.global.proxy.clusterDomain }}`).
@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param([_proxy_pod(["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"])], "cluster.local", id="healthy-default-domain"),
        pytest.param([_proxy_pod(["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.corp.internal"])], "corp.internal", id="other-domain"),
        pytest.param([_proxy_pod(["proxy", "sidecar", "--domain=$(POD_NAMESPACE).svc.corp.internal"])], "corp.internal", id="equals-form"),
        pytest.param([_proxy_pod(["proxy", "sidecar", "--domain", "bookinfo.svc.corp.internal"], native=True)], "corp.internal", id="native-sidecar"),
        pytest.param([_proxy_pod(["proxy", "sidecar"])], None, id="no-domain-arg"),
        pytest.param([{"kind": "Service", "metadata": {"name": "s"}}], None, id="no-pods"),
        pytest.param("not a list", None, id="malformed"),
        pytest.param([{"kind": "Pod", "spec": {"containers": 7, "initContainers": "x"}}], None, id="malformed-containers"),
    ],
)  # fmt: skip
def test_cluster_domain_of(objects: Any, expected: str | None) -> None:
    assert cluster_domain_of(objects) == expected


@pytest.mark.parametrize(
    ("host", "domain", "canonical"),
    [
        pytest.param("reviews.bookinfo.svc.cluster.local", "cluster.local", "reviews.bookinfo.svc.cluster.local", id="healthy-default"),
        pytest.param("reviews.bookinfo.svc.corp.internal", "corp.internal", "reviews.bookinfo.svc.cluster.local", id="own-domain"),
        pytest.param("*.bookinfo.svc.corp.internal", "corp.internal", "*.bookinfo.svc.cluster.local", id="wildcard"),
        pytest.param("reviews.bookinfo.svc.cluster.local", "corp.internal", "reviews.bookinfo.svc.cluster.local.(not-this-cluster)", id="foreign-cluster-local"),
        pytest.param("api.example.com", "corp.internal", "api.example.com", id="external-host"),
    ],
)  # fmt: skip
def test_canonical_host_round_trip(host: str, domain: str, canonical: str) -> None:
    assert canonical_host(host, domain) == canonical
    if host.endswith(f".svc.{domain}"):
        assert display_host(canonical, domain) == host


def _seed(domain_arg: str, dr_host: str) -> list[dict[str, Any]]:
    server = pod("bookinfo", "productpage-1", "productpage", port=9080)
    client = pod("load-test", "gen-1", "gen")
    for p in (server, client):
        p["spec"]["containers"][-1]["args"] = [
            "proxy",
            "sidecar",
            "--domain",
            f"$(POD_NAMESPACE).svc.{domain_arg}",
        ]
    return [
        server,
        client,
        svc("bookinfo", "productpage", 9080),
        pa("bookinfo", "default", "STRICT"),
        dr("bookinfo", "destrule-productpage", dr_host, tls="DISABLE"),
    ]


@pytest.mark.parametrize(
    ("domain_arg", "dr_host", "target", "configured", "expected_dr", "host"),
    [
        pytest.param("cluster.local", "productpage", "productpage.bookinfo.svc.cluster.local", None, "bookinfo/destrule-productpage", "productpage.bookinfo.svc.cluster.local", id="healthy-cluster-local"),
        pytest.param("corp.internal", "productpage.bookinfo.svc.corp.internal", "productpage.bookinfo.svc.corp.internal", None, "bookinfo/destrule-productpage", "productpage.bookinfo.svc.corp.internal", id="discovered-domain"),
        pytest.param("corp.internal", "productpage", "productpage.bookinfo.svc.corp.internal", None, "bookinfo/destrule-productpage", "productpage.bookinfo.svc.corp.internal", id="short-host"),
        # A host written for cluster.local in a corp.internal cluster names no Service: it applies nowhere.
        pytest.param("corp.internal", "productpage.bookinfo.svc.cluster.local", "productpage.bookinfo.svc.corp.internal", None, None, "productpage.bookinfo.svc.corp.internal", id="foreign-domain-host-matches-nothing"),
        pytest.param("cluster.local", "productpage.bookinfo.svc.corp.internal", "productpage.bookinfo.svc.corp.internal", "corp.internal", "bookinfo/destrule-productpage", "productpage.bookinfo.svc.corp.internal", id="configured-overrides"),
    ],
)  # fmt: skip
def test_engine_resolves_in_the_cluster_domain(
    domain_arg: str, dr_host: str, target: str, configured: str | None, expected_dr: str | None, host: str
) -> None:
    view = PolicyEngine(_seed(domain_arg, dr_host), cluster_domain=configured).check(
        "load-test", None, target, 9080
    )
    assert view.destination_rule == expected_dr
    assert view.host == host
    assert ".svc.cluster.local" not in view.explanation or host.endswith("cluster.local")


def test_engine_accepts_the_canonical_form_from_agent_callers() -> None:
    # agent.check names targets in the engine's canonical cluster.local form (gather.service_target).
    objects = _seed("corp.internal", "productpage")
    view = PolicyEngine(objects).check("load-test", None, "productpage.bookinfo.svc.cluster.local", 9080)
    assert view.destination_rule == "bookinfo/destrule-productpage"
    assert view.server_mode == "STRICT"
    assert view.host == "productpage.bookinfo.svc.corp.internal"
