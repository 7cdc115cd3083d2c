"""The golden-capture scenarios: one client pod calling productpage:9080, one knob changed per scenario.

Pure data (no I/O). `capture.py` brings each up on real Envoy and writes an evidence bundle;
`expected_verdict` is DESIGN.md's verdict the classifier must give for that bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshlab.app_server import AppBehaviour
from meshlab.sidecar import TrafficPolicy


@dataclass(frozen=True)
class GoldenScenario:
    name: str
    expected_verdict: str
    how: str  # one line for tests/testdata/bundles/README.md
    client_sidecar: bool = True
    client_tls: str = "ISTIO_MUTUAL"  # decided client TLS mode
    auto: bool = True  # ISTIO_MUTUAL via auto mTLS (no DR tls)
    destination_rule: str | None = None  # "ns/name" when a DR applied
    dr_tls_mode: str | None = None  # the DR's tls.mode, for resources/
    subject_alt_names: tuple[str, ...] | None = None  # None = the server's real identity
    server_sidecar: bool = True
    server_mode: str = "PERMISSIVE"
    server_cert: str = "ok"  # ok | other_ca | wrong_san | expired
    app: AppBehaviour = field(default_factory=AppBehaviour)
    app_listening: bool = True
    host: str = "productpage.bookinfo.svc.cluster.local"
    route_timeout_s: float | None = None
    rbac_deny: bool = False
    no_endpoints: bool = False
    traffic_policy: TrafficPolicy = field(default_factory=TrafficPolicy)
    slow_concurrent: int = 0  # slow requests put in flight before probing (circuit breaker)
    warmups: int = 2
    expected_status: int = 200  # the probe's expected status (probe.json)
    stale_istio_label: bool = False  # endpoint keeps tlsMode=istio though the pod has no sidecar
    client_cert: str | None = None  # "expired": the client's Istio cert; DR MUTUAL "other_ca": its cert
    namespace_mode: str | None = None  # set: server_mode is a port-level override of this namespace mode
    shadowed_dr_tls_mode: str | None = None  # a bookinfo DR the (client-namespace) destination_rule shadows
    shadowed_dr_private: bool = False  # that bookinfo DR has exportTo ["."]: invisible to the client

    @property
    def endpoint_tls_label(self) -> str | None:
        return "istio" if self.server_sidecar or self.stale_istio_label else None


DR = "bookinfo/destrule-productpage"

SCENARIOS: tuple[GoldenScenario, ...] = (
    GoldenScenario(
        "plaintext_to_strict",
        "mtls_plaintext_to_strict",
        "DR tls DISABLE (client sends plaintext) to a STRICT server sidecar",
        client_tls="DISABLE",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="DISABLE",
        server_mode="STRICT",
    ),
    GoldenScenario("mtls_to_strict", "ok", "auto mTLS to a STRICT server sidecar", server_mode="STRICT"),
    GoldenScenario(
        "mtls_to_permissive",
        "ok",
        "DR ISTIO_MUTUAL to a PERMISSIVE server sidecar",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="ISTIO_MUTUAL",
    ),
    GoldenScenario(
        "plaintext_to_permissive",
        "ok",
        "DR tls DISABLE to a PERMISSIVE server sidecar",
        client_tls="DISABLE",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="DISABLE",
    ),
    GoldenScenario(
        "mtls_to_no_sidecar",
        "mtls_to_plaintext_server",
        "DR ISTIO_MUTUAL to a server pod without a sidecar (app answers plaintext)",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="ISTIO_MUTUAL",
        server_sidecar=False,
    ),
    GoldenScenario(
        "mtls_to_disable",
        "mtls_to_plaintext_server",
        "DR ISTIO_MUTUAL to a server sidecar whose PeerAuthentication is DISABLE",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="ISTIO_MUTUAL",
        server_mode="DISABLE",
    ),
    GoldenScenario(
        "untrusted_server_ca",
        "tls_cert_untrusted",
        "server sidecar's cert signed by another CA; client trusts only the mesh root",
        server_mode="STRICT",
        server_cert="other_ca",
    ),
    GoldenScenario(
        "san_mismatch",
        "tls_san_mismatch",
        "server cert identity sa/other-sa while the client expects sa/bookinfo-productpage",
        server_mode="STRICT",
        server_cert="wrong_san",
    ),
    GoldenScenario(
        "expired_server_cert",
        "tls_cert_expired",
        "server sidecar's cert expired yesterday",
        server_mode="STRICT",
        server_cert="expired",
    ),
    GoldenScenario(
        "tls_no_client_cert_to_strict",
        "tls_client_cert_rejected",
        "DR tls SIMPLE (TLS, no client cert) to a STRICT server sidecar",
        client_tls="SIMPLE",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="SIMPLE",
        server_mode="STRICT",
    ),
    GoldenScenario(
        "app_not_listening",
        "upstream_connection_refused",
        "server sidecar up, nothing listening on the app port",
        app_listening=False,
    ),
    GoldenScenario(
        "no_route",
        "no_route",
        "curl to a host the client sidecar has no route for",
        host="reviews.bookinfo.svc.cluster.local",
    ),
    GoldenScenario(
        "route_timeout",
        "upstream_request_timeout",
        "route timeout 0.5s (VirtualService timeout) and the app takes 2s",
        route_timeout_s=0.5,
        app=AppBehaviour(delay_ms=2000),
        warmups=1,
    ),
    GoldenScenario(
        "no_sidecar_client_to_strict",
        "plaintext_client_rejected",
        "client pod without a sidecar curls the STRICT server pod directly",
        client_sidecar=False,
        client_tls="DISABLE",
        auto=False,
        server_mode="STRICT",
    ),
    GoldenScenario(
        "rbac_deny", "rbac_denied", "AuthorizationPolicy DENY-all on the server workload", rbac_deny=True
    ),
    GoldenScenario(
        "no_healthy_upstream",
        "no_healthy_upstream",
        "service has no endpoints (scaled to zero)",
        no_endpoints=True,
    ),
    GoldenScenario(
        "circuit_breaker_overflow",
        "circuit_breaker_overflow",
        "DR connectionPool maxConnections 1, http1MaxPendingRequests 1; probe while one slow (1.5s)"
        " request is active and a second one is pending",
        auto=True,
        destination_rule=DR,
        traffic_policy=TrafficPolicy(max_connections=1, http1_max_pending_requests=1),
        app=AppBehaviour(delay_ms=1500),
        slow_concurrent=2,
        warmups=0,
    ),
    GoldenScenario(
        "app_returns_503", "app_error", "the app answers 503 itself", app=AppBehaviour(status=503)
    ),
    GoldenScenario(
        "app_closes_connection",
        "upstream_reset",
        "the app closes the connection without answering",
        app=AppBehaviour(close=True),
    ),
)
