"""Envoy TLS contexts rendered the way Istio renders them (cluster_tls.go), as plain dicts. Pure."""

from __future__ import annotations

from typing import Any

from meshlab.sidecar.spec import ISTIO_ALPN, OutboundService

UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
DOWNSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
RAW_BUFFER = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
TLS_PARAMS = {"tls_minimum_protocol_version": "TLSv1_2", "tls_maximum_protocol_version": "TLSv1_3"}


def file_root_secret_name(path: str) -> str:
    """Istio's SDS resource name for a DR caCertificates file."""
    return f"file-root:{path}"


def file_cert_secret_name(cert: str, key: str) -> str:
    """Istio's SDS resource name for a DR clientCertificate/privateKey pair."""
    return f"file-cert:{cert}~{key}"


def istio_mutual_socket(svc: OutboundService) -> dict[str, Any]:
    """UpstreamTlsContext with Istio certs (SDS `default`/`ROOTCA`), Istio ALPN, SNI and SPIFFE SANs."""
    validation: dict[str, Any] = {}
    if svc.subject_alt_names:
        validation["match_subject_alt_names"] = [{"exact": san} for san in svc.subject_alt_names]
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": UPSTREAM_TLS,
            "common_tls_context": {
                "tls_params": dict(TLS_PARAMS),
                "alpn_protocols": list(ISTIO_ALPN),
                "tls_certificate_sds_secret_configs": [{"name": "default"}],
                "combined_validation_context": {
                    "default_validation_context": validation,
                    "validation_context_sds_secret_config": {"name": "ROOTCA"},
                },
            },
            "sni": svc.sni or svc.default_sni,
        },
    }


def user_tls_socket(svc: OutboundService) -> dict[str, Any]:
    """SIMPLE/MUTUAL with non-Istio certs: no Istio ALPN, file-root/file-cert SDS names."""
    common: dict[str, Any] = {"tls_params": dict(TLS_PARAMS)}
    validation: dict[str, Any] = {}
    if svc.subject_alt_names:
        validation["match_subject_alt_names"] = [{"exact": san} for san in svc.subject_alt_names]
    if svc.ca_cert_path:
        common["combined_validation_context"] = {
            "default_validation_context": validation,
            "validation_context_sds_secret_config": {"name": file_root_secret_name(svc.ca_cert_path)},
        }
    if svc.tls_mode == "MUTUAL" and svc.client_cert_path and svc.client_key_path:
        common["tls_certificate_sds_secret_configs"] = [
            {"name": file_cert_secret_name(svc.client_cert_path, svc.client_key_path)}
        ]
    socket: dict[str, Any] = {"@type": UPSTREAM_TLS, "common_tls_context": common}
    if svc.sni:
        socket["sni"] = svc.sni
    return {"name": "envoy.transport_sockets.tls", "typed_config": socket}


def auto_mtls_matches(svc: OutboundService) -> list[dict[str, Any]]:
    """Auto mTLS: TLS for endpoints labelled tlsMode=istio, raw buffer for the rest."""
    return [
        {
            "name": "tlsMode-istio",
            "match": {"tlsMode": "istio"},
            "transport_socket": istio_mutual_socket(svc),
        },
        {
            "name": "tlsMode-disabled",
            "match": {},
            "transport_socket": {
                "name": "envoy.transport_sockets.raw_buffer",
                "typed_config": {"@type": RAW_BUFFER},
            },
        },
    ]


def inbound_tls_socket() -> dict[str, Any]:
    """Server side of Istio mTLS: workload cert, client cert required, trust the mesh root."""
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": DOWNSTREAM_TLS,
            "common_tls_context": {
                "tls_params": dict(TLS_PARAMS),
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificate_sds_secret_configs": [{"name": "default"}],
                "combined_validation_context": {
                    "default_validation_context": {},
                    "validation_context_sds_secret_config": {"name": "ROOTCA"},
                },
            },
            "require_client_certificate": True,
        },
    }


# -- HBONE (ambient enabled in the control plane) ------------------------------------------------------
# Shapes from istio/istio pilot/pkg/networking/core/cluster_tls.go (hboneTransportSocket,
# applyHBONETransportSocketMatches; b29d7766ddc) and pilot/pkg/networking/util/internal_upstream.go
# (FullMetadataPassthroughInternalUpstreamTransportSocket; c5d58e6449e), both at istio 86c9f01fd735.
# istiod renders them for sidecars when PILOT_ENABLE_SENDING_HBONE is on, which defaults to on with
# PILOT_ENABLE_AMBIENT (pilot/pkg/features/ambient.go).
INTERNAL_UPSTREAM = (
    "type.googleapis.com/envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport"
)
ORIGINAL_DST_METADATA = "envoy.filters.listener.original_dst"


def raw_buffer_socket() -> dict[str, Any]:
    return {"name": "envoy.transport_sockets.raw_buffer", "typed_config": {"@type": RAW_BUFFER}}


def hbone_match(inner: dict[str, Any]) -> dict[str, Any]:
    """The `hbone` match: endpoints with `tunnel: http` metadata go through the internal upstream."""
    return {
        "name": "hbone",
        "match": {"tunnel": "http"},
        "transport_socket": {
            "name": "envoy.transport_sockets.internal_upstream",
            "typed_config": {
                "@type": INTERNAL_UPSTREAM,
                "passthrough_metadata": [
                    {"kind": {"host": {}}, "name": ORIGINAL_DST_METADATA},
                    {"kind": {"cluster": {}}, "name": "istio"},
                    {"kind": {"host": {}}, "name": "istio"},
                ],
                "transport_socket": inner,
            },
        },
    }


def hbone_matches(svc: OutboundService) -> list[dict[str, Any]]:
    """A sidecar cluster's transport_socket_matches when the control plane sends HBONE.

    auto ISTIO_MUTUAL: [hbone(raw), tlsMode-istio (match tlsMode: istio), tlsMode-disabled];
    explicit ISTIO_MUTUAL: [hbone(raw), tlsMode-istio with NO match (every other endpoint)];
    SIMPLE/MUTUAL: [hbone(wrapping the user's TLS), user]; no TLS / DISABLE: [hbone(raw), tlsMode-disabled].
    """
    if svc.tls_mode == "ISTIO_MUTUAL" and svc.auto:
        return [hbone_match(raw_buffer_socket()), *auto_mtls_matches(svc)]
    if svc.tls_mode == "ISTIO_MUTUAL":
        return [
            hbone_match(raw_buffer_socket()),
            {"name": "tlsMode-istio", "transport_socket": istio_mutual_socket(svc)},
        ]
    if svc.tls_mode in ("SIMPLE", "MUTUAL"):
        user = user_tls_socket(svc)
        return [hbone_match(user), {"name": "user", "transport_socket": user}]
    return [hbone_match(raw_buffer_socket()), auto_mtls_matches(svc)[1]]
