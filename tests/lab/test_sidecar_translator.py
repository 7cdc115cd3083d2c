"""Table-driven tests of the pure sidecar translator: the JSON it emits for each decided input."""

from __future__ import annotations

from typing import Any

import pytest

from meshlab.sidecar import (
    Endpoint,
    InboundPort,
    OutboundService,
    SidecarFiles,
    SidecarSpec,
    TrafficPolicy,
    render_sidecar,
)
from meshlab.sidecar.clusters import ISTIO_DEFAULT_THRESHOLDS, eds_file_name
from meshlab.sidecar.istio_defaults import ISTIO_TEXT_LOG_FORMAT

FILES = SidecarFiles(
    "/s/xds", "/s/certs/cert-chain.pem", "/s/certs/key.pem", "/s/certs/root-cert.pem", "/s/log"
)
SAN = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage"
CLUSTER = "outbound|9080||productpage.bookinfo.svc.cluster.local"


def svc(**kw: Any) -> OutboundService:
    base: dict[str, Any] = {
        "name": "productpage",
        "namespace": "bookinfo",
        "port": 9080,
        "endpoints": (Endpoint("127.0.9.20", 9080, "istio"),),
    }
    return OutboundService(**(base | kw))


def client(*services: OutboundService) -> dict[str, dict[str, Any]]:
    return render_sidecar(SidecarSpec("c", "load-test", "127.0.9.10", "default", FILES, outbound=services))


def server(*ports: InboundPort) -> dict[str, dict[str, Any]]:
    return render_sidecar(SidecarSpec("s", "bookinfo", "127.0.9.20", "sa", FILES, inbound=ports))


def cluster_of(files: dict[str, dict[str, Any]], name: str = CLUSTER) -> dict[str, Any]:
    return next(c for c in files["cds.json"]["resources"] if c["name"] == name)


def tls_shape(c: dict[str, Any]) -> str:
    if "transport_socket_matches" in c:
        return "matches:" + ",".join(m["name"] for m in c["transport_socket_matches"])
    if "transport_socket" in c:
        return "socket:" + ",".join(
            c["transport_socket"]["typed_config"]["common_tls_context"].get("alpn_protocols", [])
        )
    return "none"


@pytest.mark.parametrize(
    ("service", "shape"),
    [
        pytest.param(svc(), "none", id="disable-no-tls"),
        pytest.param(
            svc(tls_mode="ISTIO_MUTUAL", auto=True, subject_alt_names=(SAN,)),
            "matches:tlsMode-istio,tlsMode-disabled",
            id="auto-mtls-matches",
        ),
        pytest.param(
            svc(tls_mode="ISTIO_MUTUAL", subject_alt_names=(SAN,)),
            "socket:istio-peer-exchange,istio",
            id="explicit-istio-mutual",
        ),
        pytest.param(svc(tls_mode="SIMPLE", ca_cert_path="/ca.pem"), "socket:", id="simple-no-istio-alpn"),
    ],
)
def test_cluster_tls_origination(service: OutboundService, shape: str) -> None:
    assert tls_shape(cluster_of(client(service))) == shape


def test_istio_mutual_context_has_sni_san_and_sds_names() -> None:
    ctx = cluster_of(client(svc(tls_mode="ISTIO_MUTUAL", subject_alt_names=(SAN,))))["transport_socket"][
        "typed_config"
    ]
    common = ctx["common_tls_context"]
    assert ctx["sni"] == "outbound_.9080_._.productpage.bookinfo.svc.cluster.local"
    assert common["tls_certificate_sds_secret_configs"] == [{"name": "default"}]
    validation = common["combined_validation_context"]
    assert validation["validation_context_sds_secret_config"]["name"] == "ROOTCA"
    assert validation["default_validation_context"]["match_subject_alt_names"] == [{"exact": SAN}]


@pytest.mark.parametrize(
    ("service", "istio_meta"),
    [
        pytest.param(
            svc(),
            {
                "services": [
                    {
                        "host": "productpage.bookinfo.svc.cluster.local",
                        "name": "productpage",
                        "namespace": "bookinfo",
                    }
                ]
            },
            id="no-dr-services-only",
        ),
        pytest.param(
            svc(destination_rule="bookinfo/destrule-productpage"),
            {
                "config": "/apis/networking.istio.io/v1/namespaces/bookinfo/destination-rule/destrule-productpage"
            },
            id="dr-config-path",
        ),
        pytest.param(svc(subset="v1"), {"subset": "v1"}, id="subset"),
        pytest.param(svc(tls_mode="SIMPLE"), {"alpn_override": "false"}, id="simple-alpn-override"),
    ],
)
def test_cluster_istio_metadata(service: OutboundService, istio_meta: dict[str, Any]) -> None:
    meta = cluster_of(client(service), service.cluster_name)["metadata"]["filter_metadata"]["istio"]
    assert meta.items() >= istio_meta.items()


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(TrafficPolicy(), {"thresholds": {}}, id="defaults"),
        pytest.param(
            TrafficPolicy(load_balancer="LEAST_CONN"), {"lb_policy": "LEAST_REQUEST"}, id="least-conn"
        ),
        pytest.param(
            TrafficPolicy(max_connections=1, http1_max_pending_requests=0),
            {"thresholds": {"max_connections": 1, "max_pending_requests": 0}},
            id="connection-pool",
        ),
    ],
)
def test_traffic_policy(policy: TrafficPolicy, expected: dict[str, Any]) -> None:
    c = cluster_of(client(svc(traffic_policy=policy)))
    assert c.get("lb_policy", "ROUND_ROBIN") == expected.get("lb_policy", "ROUND_ROBIN")
    # Fields the DR does not set keep Istio's "unlimited" default.
    assert c["circuit_breakers"]["thresholds"] == [ISTIO_DEFAULT_THRESHOLDS | expected.get("thresholds", {})]


@pytest.mark.parametrize(
    ("label", "metadata"),
    [
        pytest.param(
            "istio",
            {"filter_metadata": {"envoy.transport_socket_match": {"tlsMode": "istio"}}},
            id="sidecar-endpoint",
        ),
        pytest.param(None, None, id="no-sidecar-endpoint"),
    ],
)
def test_endpoint_tls_mode_metadata(label: str | None, metadata: dict[str, Any] | None) -> None:
    s = svc(endpoints=(Endpoint("127.0.9.20", 9080, label),))
    cla = client(s)[eds_file_name(CLUSTER)]["resources"][0]
    assert cla["endpoints"][0]["lb_endpoints"][0].get("metadata") == metadata


def test_eds_cluster_points_at_its_file() -> None:
    c = cluster_of(client(svc()))
    assert c["type"] == "EDS"
    path = c["eds_cluster_config"]["eds_config"]["path_config_source"]["path"]
    assert path == f"/s/xds/{eds_file_name(CLUSTER)}" and "|" not in path


def test_outbound_route_has_istio_retry_policy_and_timeouts() -> None:
    files = client(svc(), svc(name="reviews", route_timeout_s=0.5))
    hcm = files["lds.json"]["resources"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    vhosts = {v["name"]: v for v in hcm["route_config"]["virtual_hosts"]}
    pp = vhosts["productpage.bookinfo.svc.cluster.local:9080"]
    route = pp["routes"][0]["route"]
    assert route["retry_policy"]["num_retries"] == 2
    assert route["retry_policy"]["retriable_status_codes"] == [503]
    assert route["timeout"] == "0s"
    assert vhosts["reviews.bookinfo.svc.cluster.local:9080"]["routes"][0]["route"]["timeout"] == "0.5s"
    assert {"productpage:9080", "productpage", "productpage.bookinfo.svc.cluster.local:9080"} <= set(
        pp["domains"]
    )
    assert hcm["preserve_external_request_id"] is True
    fmt = hcm["access_log"][0]["typed_config"]["log_format"]["text_format_source"]["inline_string"]
    assert fmt == ISTIO_TEXT_LOG_FORMAT and "%UPSTREAM_CLUSTER_RAW%" in fmt


def inbound_chains(mode: str, rbac: bool = False) -> list[dict[str, Any]]:
    files = server(InboundPort(9080, 9080, 19080, mode, rbac))
    listener = next(lst for lst in files["lds.json"]["resources"] if lst["name"] == "127.0.9.20_9080")
    return listener["filter_chains"]


@pytest.mark.parametrize(
    ("mode", "matches"),
    [
        pytest.param("STRICT", ["tls"], id="strict-tls-only"),
        pytest.param("PERMISSIVE", ["tls", "raw_buffer"], id="permissive-split"),
        pytest.param("DISABLE", ["raw_buffer"], id="disable-plaintext-only"),
    ],
)
def test_inbound_chains_follow_peer_authentication(mode: str, matches: list[str]) -> None:
    chains = inbound_chains(mode)
    assert [c["filter_chain_match"]["transport_protocol"] for c in chains] == matches
    for chain in chains:
        if chain["filter_chain_match"]["transport_protocol"] == "tls":
            assert chain["transport_socket"]["typed_config"]["require_client_certificate"] is True


@pytest.mark.parametrize(
    ("rbac", "filters"),
    [
        pytest.param(False, ["envoy.filters.http.router"], id="no-policy"),
        pytest.param(True, ["envoy.filters.http.rbac", "envoy.filters.http.router"], id="deny-all"),
    ],
)
def test_inbound_rbac(rbac: bool, filters: list[str]) -> None:
    hcm = inbound_chains("PERMISSIVE", rbac)[1]["filters"][0]["typed_config"]
    assert [f["name"] for f in hcm["http_filters"]] == filters
    assert hcm["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["cluster"] == "inbound|9080||"


@pytest.mark.parametrize(
    ("service", "secret_names"),
    [
        pytest.param(svc(), ["default", "ROOTCA"], id="istio-only"),
        pytest.param(
            svc(tls_mode="SIMPLE", ca_cert_path="/ca.pem"),
            ["default", "ROOTCA", "file-root:/ca.pem"],
            id="simple-file-root",
        ),
        pytest.param(
            svc(
                tls_mode="MUTUAL", ca_cert_path="/ca.pem", client_cert_path="/c.pem", client_key_path="/k.pem"
            ),
            ["default", "ROOTCA", "file-root:/ca.pem", "file-cert:/c.pem~/k.pem"],
            id="mutual-file-cert",
        ),
    ],
)
def test_static_secrets_use_istio_sds_names(service: OutboundService, secret_names: list[str]) -> None:
    boot = client(service)["bootstrap.json"]
    assert [s["name"] for s in boot["static_resources"]["secrets"]] == secret_names


def test_outlier_detection() -> None:
    c = cluster_of(
        client(svc(traffic_policy=TrafficPolicy(consecutive_5xx_errors=3, base_ejection_time_s=10)))
    )
    assert c["outlier_detection"]["consecutive_5xx"] == 3
    assert c["outlier_detection"]["base_ejection_time"] == "10s"


def test_bootstrap_secrets_admin_and_file_xds() -> None:
    boot = client(svc(tls_mode="SIMPLE", ca_cert_path="/ca.pem"))["bootstrap.json"]
    assert [s["name"] for s in boot["static_resources"]["secrets"]] == [
        "default",
        "ROOTCA",
        "file-root:/ca.pem",
    ]
    assert boot["admin"]["address"]["socket_address"] == {"address": "127.0.9.10", "port_value": 15000}
    assert boot["dynamic_resources"]["cds_config"]["path_config_source"]["path"] == "/s/xds/cds.json"
    assert boot["dynamic_resources"]["lds_config"]["path_config_source"]["path"] == "/s/xds/lds.json"


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        pytest.param(lambda: svc(tls_mode="BOGUS"), "tls_mode", id="bad-client-mode"),
        pytest.param(lambda: InboundPort(1, 1, 2, "LOOSE"), "mode", id="bad-server-mode"),
    ],
)
def test_bad_input_names_the_field(factory: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()
