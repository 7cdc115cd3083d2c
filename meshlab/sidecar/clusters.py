"""Outbound/inbound Envoy clusters and their EDS assignments, shaped like Istio's. Pure."""

from __future__ import annotations

from typing import Any

from meshlab.sidecar.spec import InboundPort, OutboundService, SidecarSpec, TrafficPolicy
from meshlab.sidecar.tls import (
    UPSTREAM_TLS,
    auto_mtls_matches,
    hbone_matches,
    istio_mutual_socket,
    user_tls_socket,
)

CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
CLA_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
# Istio maps DR LEAST_CONN to Envoy LEAST_REQUEST (cluster_traffic_policy.go).
LB_POLICY = {
    "ROUND_ROBIN": "ROUND_ROBIN",
    "LEAST_CONN": "LEAST_REQUEST",
    "LEAST_REQUEST": "LEAST_REQUEST",
    "RANDOM": "RANDOM",
}


UNLIMITED = 4294967295
ISTIO_DEFAULT_THRESHOLDS = {
    "max_connections": UNLIMITED,
    "max_pending_requests": UNLIMITED,
    "max_requests": UNLIMITED,
    "max_retries": UNLIMITED,
}


def eds_file_name(cluster_name: str) -> str:
    """A file-system-safe name for one cluster's EDS file (cluster names contain `|`)."""
    return "eds_" + "".join(c if c.isalnum() or c in "-." else "_" for c in cluster_name) + ".json"


def _eds_config(xds_dir: str, cluster_name: str) -> dict[str, Any]:
    return {
        "service_name": cluster_name,
        "eds_config": {
            "path_config_source": {"path": f"{xds_dir}/{eds_file_name(cluster_name)}"},
            "resource_api_version": "V3",
            "initial_fetch_timeout": "0s",
        },
    }


def _istio_metadata(svc: OutboundService) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "services": [{"host": svc.fqdn, "name": svc.name, "namespace": svc.namespace}],
    }
    if svc.destination_rule:
        ns, _, name = svc.destination_rule.partition("/")
        meta["config"] = f"/apis/{svc.dr_api_version}/namespaces/{ns}/destination-rule/{name}"
    if svc.subset:
        meta["subset"] = svc.subset
    if svc.tls_mode in ("SIMPLE", "MUTUAL"):
        meta["alpn_override"] = "false"
    return {"filter_metadata": {"istio": meta}}


def _apply_traffic_policy(cluster: dict[str, Any], tp: TrafficPolicy) -> None:
    if tp.load_balancer:
        cluster["lb_policy"] = LB_POLICY.get(tp.load_balancer, "ROUND_ROBIN")
    # Istio starts from its "unlimited" defaults and overrides only the fields the DR sets.
    thresholds: dict[str, Any] = cluster["circuit_breakers"]["thresholds"][0]
    for key, value in (
        ("max_connections", tp.max_connections),
        ("max_pending_requests", tp.http1_max_pending_requests),
        ("max_requests", tp.http2_max_requests),
        ("max_retries", tp.max_retries),
    ):
        if value is not None:
            thresholds[key] = value
    if tp.consecutive_5xx_errors is not None:
        cluster["outlier_detection"] = {
            "consecutive_5xx": tp.consecutive_5xx_errors,
            "base_ejection_time": f"{tp.base_ejection_time_s or 30}s",
            "max_ejection_percent": 100,
            "interval": "1s",
        }
        # Istio's outlierDetection.minHealthPercent defaults to 0: panic routing off, so a cluster
        # whose hosts are all ejected answers UH instead of sending to ejected hosts anyway.
        cluster["common_lb_config"] = {"healthy_panic_threshold": {"value": 0}}


def outbound_cluster(svc: OutboundService, xds_dir: str) -> dict[str, Any]:
    """`outbound|PORT|SUBSET|FQDN` with Istio's metadata and TLS origination."""
    cluster: dict[str, Any] = {
        "@type": CLUSTER_TYPE,
        "name": svc.cluster_name,
        "type": "EDS",
        "eds_cluster_config": _eds_config(xds_dir, svc.cluster_name),
        "connect_timeout": "10s",
        "circuit_breakers": {"thresholds": [dict(ISTIO_DEFAULT_THRESHOLDS)]},
        "metadata": _istio_metadata(svc),
        "common_lb_config": {},
    }
    _apply_traffic_policy(cluster, svc.traffic_policy)
    if svc.hbone:
        cluster["transport_socket_matches"] = hbone_matches(svc)
    elif svc.tls_mode == "ISTIO_MUTUAL" and svc.auto:
        cluster["transport_socket_matches"] = auto_mtls_matches(svc)
    elif svc.tls_mode == "ISTIO_MUTUAL":
        cluster["transport_socket"] = istio_mutual_socket(svc)
    elif svc.tls_mode in ("SIMPLE", "MUTUAL"):
        cluster["transport_socket"] = user_tls_socket(svc)
    return cluster


def outbound_assignment(svc: OutboundService) -> dict[str, Any]:
    """ClusterLoadAssignment; endpoints labelled tlsMode=istio carry the transport-socket match metadata."""
    lb_endpoints = []
    for ep in svc.endpoints:
        entry: dict[str, Any] = {
            "endpoint": {"address": {"socket_address": {"address": ep.ip, "port_value": ep.port}}},
            "load_balancing_weight": 1,
        }
        if ep.tls_mode_label == "istio":
            entry["metadata"] = {"filter_metadata": {"envoy.transport_socket_match": {"tlsMode": "istio"}}}
        lb_endpoints.append(entry)
    return {
        "@type": CLA_TYPE,
        "cluster_name": svc.cluster_name,
        "endpoints": [{"lb_endpoints": lb_endpoints}],
    }


def inbound_cluster_name(port: InboundPort) -> str:
    return f"inbound|{port.target_port}||"


def inbound_cluster(spec: SidecarSpec, port: InboundPort) -> dict[str, Any]:
    """`inbound|PORT||`: the app on the pod address (Istio dials the pod IP since 1.10)."""
    name = inbound_cluster_name(port)
    addr = {"socket_address": {"address": spec.pod_ip, "port_value": port.app_port}}
    return {
        "@type": CLUSTER_TYPE,
        "name": name,
        "type": "STATIC",
        "connect_timeout": "10s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": addr}}]}],
        },
        "metadata": {"filter_metadata": {"istio": {"services": [{"namespace": spec.namespace}]}}},
    }


CONNECT_ORIGINATE = "connect_originate"
HBONE_PORT = 15008  # model.HBoneInboundListenPort


def connect_originate_cluster() -> dict[str, Any]:
    """The `connect_originate` cluster istiod adds to sidecars that send HBONE (cluster.go, the
    EnableHBONESend branch; buildConnectOriginate in cluster_waypoint.go at istio 86c9f01fd735):
    ORIGINAL_DST to port 15008 over mesh mTLS, HTTP/2 with CONNECT. Nothing in the lab routes to it."""
    return {
        "@type": CLUSTER_TYPE,
        "name": CONNECT_ORIGINATE,
        "type": "ORIGINAL_DST",
        "lb_policy": "CLUSTER_PROVIDED",
        "connect_timeout": "10s",
        "cleanup_interval": "60s",
        "circuit_breakers": {"thresholds": [dict(ISTIO_DEFAULT_THRESHOLDS)]},
        "original_dst_lb_config": {"upstream_port_override": HBONE_PORT},
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "common_http_protocol_options": {"idle_timeout": "3600s"},
                "explicit_http_config": {"http2_protocol_options": {"allow_connect": True}},
            }
        },
        "transport_socket": {
            "name": "tls",
            "typed_config": {
                "@type": UPSTREAM_TLS,
                "common_tls_context": {
                    "tls_params": {
                        "tls_minimum_protocol_version": "TLSv1_2",
                        "tls_maximum_protocol_version": "TLSv1_3",
                    },
                    "tls_certificate_sds_secret_configs": [{"name": "default"}],
                    "combined_validation_context": {
                        "default_validation_context": {},
                        "validation_context_sds_secret_config": {"name": "ROOTCA"},
                    },
                },
            },
        },
    }
