"""Parsed evidence: the typed output of the pure parsers, the input of the classifier.

Stdlib only, frozen, no I/O. Parsers (agent/probe, agent/envoy) build these; the classifier
(agent/diagnose) and the cross-check rules read them; the pipeline bundles them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class CurlResult:
    """What one curl run told us (from -v stderr, the body, and the %{json} write-out)."""

    exit_code: int | None
    http_status: int | None = None  # None when no response arrived (curl reports 0)
    response_headers: Mapping[str, str] = field(default_factory=dict)  # lower-cased names
    body: str = ""
    error: str | None = None  # curl's own error line text, e.g. "(56) Recv failure: ..."
    connected: bool | None = None  # TCP connect to the first hop succeeded
    remote_ip: str | None = None
    remote_port: int | None = None
    time_total_s: float | None = None
    tls_version: str | None = None  # only when curl itself did TLS
    notes: tuple[str, ...] = ()  # parser notes (e.g. "no write-out found; used -v fallback")


@dataclass(frozen=True)
class AccessLogEntry:
    """One Envoy access-log line, whatever Istio layout (TEXT of any era, or JSON) it came in."""

    layout: str  # e.g. "istio-1.23+", "istio-1.9", "istio-1.2", "json"
    start_time: str | None = None
    method: str | None = None
    path: str | None = None
    protocol: str | None = None
    response_code: int | None = None  # 0 when Envoy sent no response
    response_flags: tuple[str, ...] = ()  # short names, e.g. ("URX", "UF")
    response_code_details: str | None = None
    connection_termination_details: str | None = None
    upstream_transport_failure_reason: str | None = None
    bytes_received: int | None = None
    bytes_sent: int | None = None
    duration_ms: int | None = None
    upstream_service_time_ms: int | None = None
    user_agent: str | None = None
    request_id: str | None = None
    authority: str | None = None
    upstream_host: str | None = None
    upstream_cluster: str | None = None
    upstream_local_address: str | None = None
    downstream_local_address: str | None = None
    downstream_remote_address: str | None = None
    requested_server_name: str | None = None
    route_name: str | None = None
    raw: str = ""


class TlsOrigination(StrEnum):
    """How a client sidecar's outbound cluster originates TLS."""

    ISTIO_MUTUAL = "ISTIO_MUTUAL"  # explicit transport_socket with Istio certs (DR ISTIO_MUTUAL)
    AUTO = "AUTO"  # transport_socket_matches tlsMode-istio / tlsMode-disabled (auto mTLS)
    PLAINTEXT = "DISABLE"  # no transport socket at all (DR DISABLE, or no auto mTLS)
    SIMPLE = "SIMPLE"  # TLS without a client certificate (non-Istio certs)
    MUTUAL = "MUTUAL"  # TLS with user-supplied client certificate
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class ClusterInfo:
    """One Envoy cluster as read from a config_dump (any of its forms)."""

    name: str
    direction: str | None = None  # "outbound" | "inbound" | None for specials
    port: int | None = None
    subset: str | None = None
    fqdn: str | None = None
    tls: TlsOrigination = TlsOrigination.UNKNOWN
    sni: str | None = None
    expected_sans: tuple[str, ...] = ()
    alpn: tuple[str, ...] = ()
    destination_rule: str | None = None  # "namespace/name" from filter_metadata.istio.config
    endpoint_tls_modes: Mapping[str, str] = field(default_factory=dict)  # endpoint address -> tlsMode
    # An `hbone` transport-socket match (ambient-enabled control plane): endpoints whose EDS metadata
    # says `tunnel: http` get HBONE (mTLS in an HTTP CONNECT tunnel); the rest get `tls`.
    hbone: bool = False


@dataclass(frozen=True)
class PolicyView:
    """What the Istio policy engine says about one client -> host:port (tls-check's row)."""

    host: str
    port: int
    status: str  # "OK" | "CONFLICT"
    client_mode: str  # ISTIO_MUTUAL | DISABLE | SIMPLE | MUTUAL
    client_mode_source: str  # destination_rule | auto | default
    server_mode: str  # STRICT | PERMISSIVE | DISABLE | NONE
    destination_rule: str | None = None
    peer_authentication: str | None = None
    symptom: str | None = None
    explanation: str = ""
    remedy_text: str | None = None
    remedy_patch: str | None = None
