"""Proxy drift and the mTLS cross-check run on clusters read from real Istio config dumps.

Real dumps: shared fixtures istio-real/ (1.1 v2 API mesh-wide ISTIO_MUTUAL DR, 1.9 DR subsets) and
istio-real-modern/ (1.22.3 DR subsets), see their SOURCES.md. HBONE shapes: the real 1.22.3 sockets
rearranged as istio/istio 86c9f01f pilot/pkg/networking/core/cluster_tls.go
`applyHBONETransportSocketMatches` does (tests/istio_shapes.py). Each row names what the sidecar
really runs and what the current resources resolve; drift is claimed only when they disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pytest

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.diagnose.rules.drift import proxy_drift
from agent.envoy.config_dump import find_cluster, parse_clusters
from agent.evidence import AccessLogEntry, ClusterInfo, CurlResult, PolicyView
from agent.model import Confidence, Verdict
from tests.support import istio_shapes as shapes
from tests.support.shared_data import REAL

V11 = REAL / "config_dumps" / "sidecar_istio1.1_productpage_meshwide-dr-istio-mutual_v2api.json"
V19 = REAL / "config_dumps" / "sidecar_istio1.9_bookinfo-productpage_dr-subsets.json"
V118 = REAL / "config_dumps" / "sidecar_istio1.18_hotelres-geo_automtls_full.json"
APP1 = "app1.default.svc.cluster.local"


@lru_cache(maxsize=8)
def _parsed(path: Path) -> tuple[ClusterInfo, ...]:
    return tuple(parse_clusters(path.read_bytes()))


def real(path: Path, fqdn: str, port: int, subset: str | None = None) -> ClusterInfo:
    found = find_cluster(_parsed(path), fqdn, port, subset)
    assert found is not None, (path.name, fqdn, port, subset)
    return found


def shape(build: Callable[[], dict[str, object]]) -> ClusterInfo:
    [info] = parse_clusters(shapes.dump_of(build()))
    return info


def view(host: str, port: int, mode: str, source: str, dr: str | None, server: str = "STRICT") -> PolicyView:
    return PolicyView(host, port, "OK", mode, source, server, dr)


REVIEWS = "reviews.default.svc.cluster.local"
KUBE = "kubernetes.default.svc.cluster.local"
DETAILS = "details.default.svc.cluster.local"

DRIFT_ROWS = [
    # --- in sync: no finding -------------------------------------------------------------------
    pytest.param(
        lambda: real(V11, REVIEWS, 9080),
        view(REVIEWS, 9080, "ISTIO_MUTUAL", "destination_rule", "istio-system/default"),
        None,
        id="1.1-mesh-dr-istio-mutual-in-sync",
    ),
    pytest.param(
        lambda: real(V11, KUBE, 443),
        view(KUBE, 443, "DISABLE", "destination_rule", "istio-system/api-server", "NONE"),
        None,
        id="1.1-api-server-dr-disable-in-sync",
    ),
    pytest.param(
        lambda: real(V19, DETAILS, 9080, "v1"),
        view(DETAILS, 9080, "ISTIO_MUTUAL", "auto", "default/details"),
        None,
        id="1.9-subset-v1-auto-in-sync",
    ),
    pytest.param(
        lambda: real(V118, "frontend.hr2.svc.cluster.local", 5000),
        view("frontend.hr2.svc.cluster.local", 5000, "ISTIO_MUTUAL", "auto", None),
        None,
        id="1.18-auto-no-dr-in-sync",
    ),
    pytest.param(
        lambda: shape(shapes.real_cluster),
        view(APP1, 3333, "ISTIO_MUTUAL", "auto", "default/app1-destination"),
        None,
        id="1.22-auto-in-sync",
    ),
    # HBONE (ambient-enabled control plane): explicit ISTIO_MUTUAL must not read as AUTO ...
    pytest.param(
        lambda: shape(shapes.hbone_istio_mutual),
        view(APP1, 3333, "ISTIO_MUTUAL", "destination_rule", "default/app1-destination"),
        None,
        id="hbone-explicit-istio-mutual-in-sync",
    ),
    # ... and DISABLE must not read as UNKNOWN (nor as drift).
    pytest.param(
        lambda: shape(shapes.hbone_disable),
        view(APP1, 3333, "DISABLE", "destination_rule", "default/app1-destination"),
        None,
        id="hbone-disable-in-sync",
    ),
    pytest.param(
        lambda: shape(shapes.hbone_auto),
        view(APP1, 3333, "ISTIO_MUTUAL", "auto", "default/app1-destination"),
        None,
        id="hbone-auto-in-sync",
    ),
    pytest.param(
        lambda: shape(shapes.hbone_simple),
        view(APP1, 3333, "SIMPLE", "destination_rule", "default/app1-destination"),
        None,
        id="hbone-simple-in-sync",
    ),
    # Stored-version change (v1alpha3 path up to 1.23, v1 from 1.24) is the same DestinationRule.
    pytest.param(
        lambda: shape(lambda: shapes.with_dr(shapes.hbone_istio_mutual(), "default", "app1-destination")),
        view(APP1, 3333, "ISTIO_MUTUAL", "destination_rule", "default/app1-destination"),
        None,
        id="v1-config-path-in-sync",
    ),
    # --- real disagreement: drift ----------------------------------------------------------------
    pytest.param(
        lambda: real(V11, REVIEWS, 9080),
        view(REVIEWS, 9080, "DISABLE", "destination_rule", "istio-system/default"),
        "originates ISTIO_MUTUAL",
        id="1.1-sidecar-mutual-policy-now-disable",
    ),
    pytest.param(
        lambda: real(V19, DETAILS, 9080, "v1"),
        view(DETAILS, 9080, "ISTIO_MUTUAL", "destination_rule", "default/details"),
        "uses auto mTLS",
        id="1.9-auto-but-policy-now-explicit",
    ),
    pytest.param(
        lambda: shape(shapes.hbone_disable),
        view(APP1, 3333, "ISTIO_MUTUAL", "destination_rule", "default/app1-destination"),
        "originates DISABLE",
        id="hbone-disable-but-policy-now-mutual",
    ),
    pytest.param(
        lambda: shape(shapes.hbone_istio_mutual),
        view(APP1, 3333, "ISTIO_MUTUAL", "destination_rule", "default/other"),
        "names DestinationRule default/app1-destination",
        id="hbone-dr-renamed",
    ),
]


@pytest.mark.parametrize(("cluster", "policy", "expect"), DRIFT_ROWS)
def test_drift_on_real_dumps(
    cluster: Callable[[], ClusterInfo], policy: PolicyView, expect: str | None
) -> None:
    found = proxy_drift(cluster(), policy)
    if expect is None:
        assert found is None
    else:
        assert found is not None and expect in found


UC_BODY = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
LOCAL = {"server": "envoy", "content-type": "text/plain"}


def _uc(cluster: ClusterInfo, policy: PolicyView, upstream_host: str | None = None) -> DiagnoseInput:
    entry = AccessLogEntry(
        layout="istio-1.23+",
        response_code=503,
        response_flags=("UC",),
        request_id="r1",
        upstream_host=upstream_host,
        upstream_cluster=cluster.name,
    )
    curl = CurlResult(exit_code=0, http_status=503, response_headers=LOCAL, body=UC_BODY)
    return DiagnoseInput(
        curl=curl,
        client_entry=entry,
        client_log_present=True,
        client_cluster=cluster,
        client_dump_present=True,
        policy=policy,
        repeatable=True,
    )


def _strict(mode: str, source: str, dr: str | None, server: str = "STRICT") -> PolicyView:
    return PolicyView(APP1, 3333, "CONFLICT", mode, source, server, dr, "default/default")


CROSSCHECK_ROWS = [
    pytest.param(
        lambda: shape(shapes.hbone_disable),
        _strict("DISABLE", "destination_rule", "default/app1-destination"),
        None,
        Verdict.MTLS_PLAINTEXT_TO_STRICT,
        Confidence.HIGH,
        id="hbone-disable-to-strict-high",
    ),
    pytest.param(
        lambda: shape(shapes.plain_disable),
        _strict("DISABLE", "destination_rule", "default/app1-destination"),
        None,
        Verdict.MTLS_PLAINTEXT_TO_STRICT,
        Confidence.HIGH,
        id="disable-to-strict-high",
    ),
    pytest.param(
        lambda: shape(shapes.hbone_istio_mutual),
        _strict("ISTIO_MUTUAL", "destination_rule", "default/app1-destination", "NONE"),
        None,
        Verdict.MTLS_TO_PLAINTEXT_SERVER,
        Confidence.MEDIUM,
        id="hbone-explicit-mutual-to-no-sidecar",
    ),
    pytest.param(
        lambda: shape(shapes.hbone_simple),
        _strict("SIMPLE", "destination_rule", "default/app1-destination"),
        None,
        Verdict.TLS_CLIENT_CERT_REJECTED,
        Confidence.MEDIUM,
        id="hbone-simple-to-strict",
    ),
    # A DISABLE cluster still reaches an ambient endpoint over HBONE: that is mTLS, not plaintext,
    # so the close is not explained by a plaintext client.
    pytest.param(
        lambda: ClusterInfo(
            **{
                **shape(shapes.hbone_disable).__dict__,
                "endpoint_tls_modes": {"10.0.0.9:3333": "hbone"},
            }
        ),
        _strict("DISABLE", "destination_rule", "default/app1-destination"),
        "envoy://connect_originate/10.0.0.9:3333",
        Verdict.TLS_HANDSHAKE_FAILED,
        None,
        id="hbone-endpoint-is-not-plaintext",
    ),
]


@pytest.mark.parametrize(("cluster", "policy", "host", "verdict", "confidence"), CROSSCHECK_ROWS)
def test_crosscheck_on_real_dumps(
    cluster: Callable[[], ClusterInfo],
    policy: PolicyView,
    host: str | None,
    verdict: Verdict,
    confidence: Confidence | None,
) -> None:
    d = classify(_uc(cluster(), policy, host))
    assert d.verdict is verdict, d.evidence
    if confidence is not None:
        assert d.confidence is confidence


def test_healthy_request_on_real_cluster_has_no_finding() -> None:
    """Healthy row: a 200 through the real 1.22 auto-mTLS cluster is ok, whatever the cluster says."""
    curl = CurlResult(exit_code=0, http_status=200, response_headers={"x-envoy-upstream-service-time": "2"})
    d = classify(DiagnoseInput(curl=curl, client_cluster=shape(shapes.hbone_auto)))
    assert d.verdict is Verdict.OK


def test_real_modern_dump_subset_clusters_all_readable() -> None:
    """Every subset cluster of the real 1.22.3 dump reads as auto mTLS with its DR and subset."""
    clusters = [
        c for c in parse_clusters(shapes.DUMP_1_22.read_bytes()) if c.subset and c.direction == "outbound"
    ]
    assert clusters and all(c.tls.value == "AUTO" and c.destination_rule for c in clusters)
    assert (
        json.dumps(sorted({c.subset for c in clusters if c.fqdn == APP1})) == '["app1-0", "app1-1", "app1-2"]'
    )
