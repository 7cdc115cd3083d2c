"""Translator input: frozen dataclasses of DECIDED facts (what the policy engine already resolved).

Nothing here decides policy; the lab fills these from `PolicyEngine.client_tls(...)` and
`server_mode(...)`. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ISTIO_ALPN = ("istio-peer-exchange", "istio")
# ALPNs Istio's PERMISSIVE inbound chain uses to recognise mesh mTLS (filterchain_options.go).
ISTIO_INBOUND_ALPNS = ("istio-peer-exchange", "istio", "istio-http/1.0", "istio-http/1.1", "istio-h2")
CLIENT_TLS_MODES = ("DISABLE", "ISTIO_MUTUAL", "SIMPLE", "MUTUAL")
SERVER_MODES = ("STRICT", "PERMISSIVE", "DISABLE")


@dataclass(frozen=True)
class Endpoint:
    """One server pod's inbound address; tls_mode_label is its `security.istio.io/tlsMode` ("istio")."""

    ip: str
    port: int
    tls_mode_label: str | None = None


@dataclass(frozen=True)
class TrafficPolicy:
    """The DestinationRule traffic-policy bits the lab renders (None = Envoy/Istio default)."""

    load_balancer: str | None = None  # ROUND_ROBIN | LEAST_CONN | LEAST_REQUEST | RANDOM
    max_connections: int | None = None  # connectionPool.tcp.maxConnections
    http1_max_pending_requests: int | None = None
    http2_max_requests: int | None = None
    max_retries: int | None = None
    consecutive_5xx_errors: int | None = None  # outlierDetection
    base_ejection_time_s: float | None = None


@dataclass(frozen=True)
class OutboundService:
    """A service the client sidecar routes to, with the client TLS decision already made."""

    name: str
    namespace: str
    port: int
    endpoints: tuple[Endpoint, ...] = ()
    tls_mode: str = "DISABLE"  # one of CLIENT_TLS_MODES; "DISABLE" also means "no TLS"
    auto: bool = False  # ISTIO_MUTUAL chosen by auto mTLS -> transport_socket_matches
    destination_rule: str | None = None  # "namespace/name" of the DR that applied
    dr_api_version: str = "networking.istio.io/v1"
    sni: str | None = None
    subject_alt_names: tuple[str, ...] = ()
    subset: str = ""
    traffic_policy: TrafficPolicy = field(default_factory=TrafficPolicy)
    route_timeout_s: float | None = None  # None = Istio default 0 (disabled)
    ca_cert_path: str | None = None  # SIMPLE/MUTUAL: DR caCertificates
    client_cert_path: str | None = None  # MUTUAL: DR clientCertificate
    client_key_path: str | None = None
    domain: str = "cluster.local"  # the Kubernetes cluster domain (Service FQDN suffix after `.svc.`)
    hbone: bool = False  # the control plane sends HBONE (ambient enabled): add Istio's `hbone` match

    def __post_init__(self) -> None:
        if self.tls_mode not in CLIENT_TLS_MODES:
            raise ValueError(
                f"OutboundService {self.fqdn}: tls_mode {self.tls_mode!r} not in {CLIENT_TLS_MODES}"
            )

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.namespace}.svc.{self.domain}"

    @property
    def cluster_name(self) -> str:
        return f"outbound|{self.port}|{self.subset}|{self.fqdn}"

    @property
    def default_sni(self) -> str:
        return f"outbound_.{self.port}_.{self.subset}_.{self.fqdn}"


@dataclass(frozen=True)
class InboundPort:
    """One inbound port of the pod, terminated per the effective PeerAuthentication mode."""

    port: int  # service port (names nothing in Envoy; kept for the lab's bookkeeping)
    target_port: int  # where the sidecar listens (what iptables would redirect)
    app_port: int  # where the app really listens on the pod address
    mode: str = "PERMISSIVE"  # one of SERVER_MODES
    rbac_deny: bool = False  # an AuthorizationPolicy DENY-all on this workload

    def __post_init__(self) -> None:
        if self.mode not in SERVER_MODES:
            raise ValueError(f"InboundPort {self.target_port}: mode {self.mode!r} not in {SERVER_MODES}")


@dataclass(frozen=True)
class SidecarFiles:
    """Where the rendered config points Envoy at (paths only; the translator never touches them)."""

    xds_dir: str
    cert_chain: str
    private_key: str
    root_cert: str
    access_log: str


@dataclass(frozen=True)
class SidecarSpec:
    """Everything one pod's sidecar needs."""

    pod_name: str
    namespace: str
    pod_ip: str
    service_account: str
    files: SidecarFiles
    outbound: tuple[OutboundService, ...] = ()
    inbound: tuple[InboundPort, ...] = ()
    admin_port: int = 15000
    outbound_port: int = 15001
    domain: str = "cluster.local"  # the Kubernetes cluster domain (node id `NS.svc.DOMAIN`)
    # Whether the inbound / outbound HCMs write files.access_log (meshlab.access_logging decides).
    log_inbound: bool = True
    log_outbound: bool = True
    # The access-log line format: JSON fields when set, else this text format (None: Istio's default).
    log_text_format: str | None = None
    log_json_format: dict[str, Any] | None = None
    # Extra bootstrap node metadata, as pilot-agent writes it (LABELS, ANNOTATIONS, PROXY_CONFIG, ISTIO_META_*).
    node_metadata: tuple[tuple[str, Any], ...] = ()
