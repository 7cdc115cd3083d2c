"""Cluster shapes as istiod renders them with HBONE sending on, built from a real cluster's own sockets.

Test helper, no I/O beyond reading the shared fixture. The starting point is a real auto-mTLS
cluster of the Istio 1.22.3 sidecar dump (istio-real-modern, see its SOURCES.md); each shape below
rearranges that cluster's own TLS and raw_buffer sockets exactly as istiod does when
`cb.sendHbone` is true (PILOT_ENABLE_SENDING_HBONE, on once PILOT_ENABLE_AMBIENT is):
istio/istio 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c pilot/pkg/networking/core/cluster_tls.go
(`hboneTransportSocket`, `hboneOrPlaintextSocket`, `applyHBONETransportSocketMatches`,
`defaultTransportSocketMatch`), checked by cluster_tls_test.go `TestApplyUpstreamTLSSettingsHBONE`.
The hbone socket is `util.FullMetadataPassthroughInternalUpstreamTransportSocket(inner)`
(pilot/pkg/networking/util/internal_upstream.go), shaped like the real waypoint dump's
internal_upstream socket.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from tests.support.shared_data import SHARED

MODERN = SHARED / "fixtures" / "istio-real-modern" / "config_dumps"
DUMP_1_22 = MODERN / "sidecar_istio1.22.3_app1-0_dr-subsets_full.json"
APP1 = "outbound|3333||app1.default.svc.cluster.local"
APP1_SUBSET = "outbound|3333|app1-0|app1.default.svc.cluster.local"

RAW_BUFFER = {
    "name": "envoy.transport_sockets.raw_buffer",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
    },
}


@lru_cache(maxsize=1)
def _dump() -> dict[str, Any]:
    return dict(json.loads(DUMP_1_22.read_bytes()))


def real_cluster(name: str = APP1) -> dict[str, Any]:
    """A deep copy of one dynamic active cluster of the real 1.22.3 dump."""
    for config in _dump()["configs"]:
        for wrapper in config.get("dynamic_active_clusters", []):
            if wrapper["cluster"]["name"] == name:
                return copy.deepcopy(wrapper["cluster"])
    raise KeyError(name)


def istio_tls_socket(cluster: dict[str, Any]) -> dict[str, Any]:
    """The real cluster's Istio mTLS socket (its `tlsMode-istio` match)."""
    match = next(m for m in cluster["transport_socket_matches"] if m["name"] == "tlsMode-istio")
    return copy.deepcopy(match["transport_socket"])


def simple_tls_socket(sni: str) -> dict[str, Any]:
    """DR tls SIMPLE with caCertificates: no client certificate, a file-root validation secret
    (cluster_tls.go `constructUpstreamTLS` / `constructSdsSecretConfigFromFile`)."""
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "common_tls_context": {
                "combined_validation_context": {
                    "default_validation_context": {"match_subject_alt_names": [{"exact": "custom.foo.com"}]},
                    "validation_context_sds_secret_config": {"name": "file-root:root-cert.pem"},
                }
            },
            "sni": sni,
        },
    }


def hbone_match(inner: dict[str, Any]) -> dict[str, Any]:
    """`hboneTransportSocket(inner)`: name hbone, match {tunnel: http}, internal_upstream around inner."""
    return {
        "name": "hbone",
        "match": {"tunnel": "http"},
        "transport_socket": {
            "name": "envoy.transport_sockets.internal_upstream",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport",
                "passthrough_metadata": [
                    {"kind": {"host": {}}, "name": "envoy.filters.listener.original_dst"},
                    {"kind": {"cluster": {}}, "name": "istio"},
                    {"kind": {"host": {}}, "name": "istio"},
                ],
                "transport_socket": copy.deepcopy(inner),
            },
        },
    }


def disabled_match() -> dict[str, Any]:
    """`defaultTransportSocketMatch()`: tlsMode-disabled, empty match, raw_buffer."""
    return {"name": "tlsMode-disabled", "match": {}, "transport_socket": copy.deepcopy(RAW_BUFFER)}


def hbone_auto(name: str = APP1) -> dict[str, Any]:
    """Auto mTLS (DR without tls): [hbone(raw), tlsMode-istio {tlsMode: istio}, tlsMode-disabled]."""
    c = real_cluster(name)
    c["transport_socket_matches"] = [hbone_match(RAW_BUFFER), *c["transport_socket_matches"]]
    return c


def hbone_istio_mutual(name: str = APP1) -> dict[str, Any]:
    """Explicit DR ISTIO_MUTUAL: [hbone(raw), tlsMode-istio with NO match (catch-all)]."""
    c = real_cluster(name)
    tls = istio_tls_socket(c)
    c["transport_socket_matches"] = [
        hbone_match(RAW_BUFFER),
        {"name": "tlsMode-istio", "transport_socket": tls},
    ]
    return c


def hbone_simple(name: str = APP1) -> dict[str, Any]:
    """Explicit DR SIMPLE: [hbone(the TLS socket), user (no match) with the same TLS socket]."""
    c = real_cluster(name)
    ts = simple_tls_socket("custom.foo.com")
    c["transport_socket_matches"] = [hbone_match(ts), {"name": "user", "transport_socket": ts}]
    return c


def hbone_disable(name: str = APP1) -> dict[str, Any]:
    """DR DISABLE (or no TLS and no auto mTLS): `hboneOrPlaintextSocket()` = [hbone(raw), tlsMode-disabled]."""
    c = real_cluster(name)
    c["transport_socket_matches"] = [hbone_match(RAW_BUFFER), disabled_match()]
    return c


def plain_istio_mutual(name: str = APP1) -> dict[str, Any]:
    """Explicit DR ISTIO_MUTUAL without HBONE: the TLS socket as the cluster's transport_socket."""
    c = real_cluster(name)
    c["transport_socket"] = istio_tls_socket(c)
    del c["transport_socket_matches"]
    return c


def plain_disable(name: str = APP1) -> dict[str, Any]:
    """DR DISABLE without HBONE: no transport socket at all."""
    c = real_cluster(name)
    del c["transport_socket_matches"]
    return c


def with_dr(cluster: dict[str, Any], namespace: str, name: str, version: str = "v1") -> dict[str, Any]:
    """Point `filter_metadata.istio.config` at another DestinationRule (stored version v1 from 1.24)."""
    cluster["metadata"]["filter_metadata"]["istio"]["config"] = (
        f"/apis/networking.istio.io/{version}/namespaces/{namespace}/destination-rule/{name}"
    )
    return cluster


def dump_of(*clusters: dict[str, Any]) -> bytes:
    """A filtered `config_dump?resource=dynamic_active_clusters` answer holding these clusters."""
    configs = [
        {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster", "cluster": c}
        for c in clusters
    ]
    return json.dumps({"configs": configs}).encode()


def hbone_eds(cluster_name: str, sidecar_ip: str, ambient_ip: str, port: int) -> dict[str, Any]:
    """An include_eds EndpointsConfigDump: one sidecar endpoint (tlsMode istio), one ambient endpoint
    behind connect_originate with `tunnel: http` (pilot/pkg/xds/endpoints/endpoint_builder.go)."""
    return {
        "@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
        "dynamic_endpoint_configs": [
            {
                "endpoint_config": {
                    "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
                    "cluster_name": cluster_name,
                    "endpoints": [
                        {
                            "lb_endpoints": [
                                {
                                    "endpoint": {
                                        "address": {
                                            "socket_address": {"address": sidecar_ip, "port_value": port}
                                        }
                                    },
                                    "metadata": {
                                        "filter_metadata": {
                                            "envoy.transport_socket_match": {"tlsMode": "istio"}
                                        }
                                    },
                                },
                                {
                                    "endpoint": {
                                        "address": {
                                            "envoy_internal_address": {
                                                "server_listener_name": "connect_originate",
                                                "endpoint_id": f"{ambient_ip}:{port}",
                                            }
                                        }
                                    },
                                    "metadata": {
                                        "filter_metadata": {
                                            "envoy.transport_socket_match": {"tunnel": "http"}
                                        }
                                    },
                                },
                            ]
                        }
                    ],
                }
            }
        ],
    }
