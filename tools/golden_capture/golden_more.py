"""More golden scenarios: the same mechanisms as golden_scenarios.py, varied (TLS modes, app faults,
outlier ejection, port-level PeerAuthentication, stale tlsMode labels). Pure data, no I/O.

Kept apart so the original 19 stay byte-for-byte what they were; capture.py runs ALL_SCENARIOS.
"""

from __future__ import annotations

from meshlab.app_server import H2_GOAWAY, AppBehaviour
from meshlab.sidecar import TrafficPolicy
from tools.golden_capture.golden_scenarios import DR, SCENARIOS, GoldenScenario

MORE_SCENARIOS: tuple[GoldenScenario, ...] = (
    GoldenScenario(
        "simple_tls_to_permissive",
        "tls_client_cert_rejected",
        "DR tls SIMPLE (TLS, no client cert, no Istio ALPN) to a PERMISSIVE server sidecar: its TLS chain"
        " is Istio mTLS only (client cert + Istio ALPN), so the handshake is reset",
        client_tls="SIMPLE",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="SIMPLE",
    ),
    GoldenScenario(
        "mutual_other_ca_to_strict",
        "tls_client_cert_rejected",
        "DR tls MUTUAL with a client cert from another CA to a STRICT server sidecar",
        client_tls="MUTUAL",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="MUTUAL",
        client_cert="other_ca",
        server_mode="STRICT",
    ),
    GoldenScenario(
        "plaintext_to_disable",
        "ok",
        "DR tls DISABLE to a server sidecar whose PeerAuthentication is DISABLE",
        client_tls="DISABLE",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="DISABLE",
        server_mode="DISABLE",
    ),
    GoldenScenario(
        "mtls_to_port_level_disable",
        "mtls_to_plaintext_server",
        "DR ISTIO_MUTUAL to a server whose namespace PeerAuthentication is STRICT but port 9080 DISABLE",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="ISTIO_MUTUAL",
        server_mode="DISABLE",
        namespace_mode="STRICT",
    ),
    GoldenScenario(
        "auto_mtls_stale_label_no_sidecar",
        "mtls_to_plaintext_server",
        "auto mTLS to an endpoint still labelled tlsMode=istio whose pod runs without a sidecar",
        server_sidecar=False,
        stale_istio_label=True,
    ),
    GoldenScenario(
        "refused_no_server_sidecar",
        "upstream_connection_refused",
        "auto mTLS (plaintext: no istio label) to a pod without a sidecar where nothing listens",
        server_sidecar=False,
        app_listening=False,
    ),
    GoldenScenario(
        "app_returns_500", "app_error", "the app answers 500 (not retried)", app=AppBehaviour(status=500)
    ),
    GoldenScenario(
        "app_returns_expected_404",
        "ok",
        "the app answers 404 and the probe expects 404",
        app=AppBehaviour(status=404),
        expected_status=404,
    ),
    GoldenScenario(
        "app_resets_connection",
        "upstream_reset",
        "the app aborts the connection with a TCP RST before answering",
        app=AppBehaviour(reset=True),
    ),
    GoldenScenario(
        "app_speaks_garbage",
        "upstream_protocol_error",
        "the app answers a TLS alert record (as a TLS-only app answers plaintext) on its HTTP port",
        app=AppBehaviour(garbage=True),
    ),
    GoldenScenario(
        "outlier_ejected",
        "no_healthy_upstream",
        "DR outlierDetection consecutive5xxErrors 1; the app answers 503 so warm-ups eject the only endpoint",
        destination_rule=DR,
        traffic_policy=TrafficPolicy(consecutive_5xx_errors=1, base_ejection_time_s=60),
        app=AppBehaviour(status=503),
        warmups=1,
    ),
    GoldenScenario(
        "route_timeout_slow_app_503",
        "upstream_request_timeout",
        "route timeout 0.5s and the app takes 1s then answers 503 (retriable, but the timeout wins)",
        route_timeout_s=0.5,
        app=AppBehaviour(delay_ms=1000, status=503),
        warmups=0,
    ),
    GoldenScenario(
        "client_ns_dr_shadows_owner_dr",
        "mtls_plaintext_to_strict",
        "a DR in the client's namespace (tls DISABLE, FQDN host) shadows the owner's ISTIO_MUTUAL DR in"
        " bookinfo; the server is STRICT",
        client_tls="DISABLE",
        auto=False,
        destination_rule="load-test/productpage-plaintext",
        dr_tls_mode="DISABLE",
        shadowed_dr_tls_mode="ISTIO_MUTUAL",
        server_mode="STRICT",
    ),
    GoldenScenario(
        "dr_san_mismatch",
        "tls_san_mismatch",
        "DR ISTIO_MUTUAL with subjectAltNames naming another service account; the server's cert is right",
        auto=False,
        destination_rule=DR,
        dr_tls_mode="ISTIO_MUTUAL",
        subject_alt_names=("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews",),
        server_mode="STRICT",
    ),
    GoldenScenario(
        "no_sidecar_client_to_permissive",
        "ok",
        "client pod without a sidecar curls the PERMISSIVE server pod directly (plaintext accepted)",
        client_sidecar=False,
        client_tls="DISABLE",
        auto=False,
    ),
    GoldenScenario(
        "no_sidecar_client_app_not_listening",
        "upstream_connection_refused",
        "client pod without a sidecar to a PERMISSIVE server sidecar whose app is not listening",
        client_sidecar=False,
        client_tls="DISABLE",
        auto=False,
        app_listening=False,
    ),
    GoldenScenario(
        "app_speaks_h2_only",
        "upstream_protocol_error",
        "the app speaks HTTP/2 only (prior knowledge) on a port the Service declares HTTP: it answers the"
        " sidecar's HTTP/1.1 request with SETTINGS + GOAWAY",
        app=AppBehaviour(raw_reply=H2_GOAWAY),
    ),
    GoldenScenario(
        "no_sidecar_app_speaks_h2_only",
        "upstream_protocol_error",
        "plaintext (auto mTLS, no istio label) to a pod without a sidecar whose app speaks HTTP/2 only:"
        " the client sidecar's own codec fails",
        server_sidecar=False,
        app=AppBehaviour(raw_reply=H2_GOAWAY),
    ),
    GoldenScenario(
        "expired_client_cert_to_strict",
        "tls_cert_expired",
        "auto mTLS to a STRICT server while the client sidecar's own workload cert expired yesterday",
        client_cert="expired",
        server_mode="STRICT",
    ),
    GoldenScenario(
        "root_dr_applies_owner_dr_private",
        "mtls_plaintext_to_strict",
        "the owner's bookinfo DR (ISTIO_MUTUAL) is exportTo ['.'], so a client in load-test (no DR of its"
        " own) gets the root istio-system DR for *.local (tls DISABLE); the server is STRICT",
        client_tls="DISABLE",
        auto=False,
        destination_rule="istio-system/mesh-default-plaintext",
        dr_tls_mode="DISABLE",
        shadowed_dr_tls_mode="ISTIO_MUTUAL",
        shadowed_dr_private=True,
        server_mode="STRICT",
    ),
    GoldenScenario(
        "auto_mtls_stale_label_nothing_listening",
        "upstream_connection_refused",
        "auto mTLS to an endpoint still labelled tlsMode=istio; the pod has no sidecar and nothing on 9080",
        server_sidecar=False,
        stale_istio_label=True,
        app_listening=False,
    ),
    GoldenScenario(
        "app_returns_302",
        "unexpected_status",
        "the app answers 302 (a redirect is not an error, but not the expected 200)",
        app=AppBehaviour(status=302),
    ),
)

ALL_SCENARIOS: tuple[GoldenScenario, ...] = SCENARIOS + MORE_SCENARIOS
