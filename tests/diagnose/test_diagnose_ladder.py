"""The classifier ladder on hand-made evidence: one named row per scenario (mechanism, not wording)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.evidence import AccessLogEntry, ClusterInfo, CurlResult, PolicyView, TlsOrigination
from agent.model import Confidence, Verdict

RESET = "upstream connect error or disconnect/reset before headers. "
UC_BODY = RESET + "reset reason: connection termination"
LOCAL = {"server": "envoy", "content-type": "text/plain"}
RELAYED = {"server": "envoy", "x-envoy-upstream-service-time": "3"}
PLAIN_CLUSTER = ClusterInfo(
    name="outbound|9080||productpage.bookinfo.svc.cluster.local",
    direction="outbound",
    port=9080,
    fqdn="productpage.bookinfo.svc.cluster.local",
    tls=TlsOrigination.PLAINTEXT,
    destination_rule="bookinfo/destrule-productpage",
)
MTLS_CLUSTER = ClusterInfo(name="outbound|9080||p", tls=TlsOrigination.ISTIO_MUTUAL)
SIMPLE_CLUSTER = ClusterInfo(name="outbound|9080||p", tls=TlsOrigination.SIMPLE)


def policy(server: str, client: str = "DISABLE", conflict: bool = True) -> PolicyView:
    return PolicyView(
        host="productpage.bookinfo.svc.cluster.local",
        port=9080,
        status="CONFLICT" if conflict else "OK",
        client_mode=client,
        client_mode_source="destination_rule",
        server_mode=server,
        destination_rule="bookinfo/destrule-productpage",
        peer_authentication="bookinfo/default",
        remedy_text="set ISTIO_MUTUAL" if conflict else None,
        remedy_patch="spec:\n  trafficPolicy:\n    loadBalancer: {simple: LEAST_CONN}\n    tls: {mode: ISTIO_MUTUAL}\n"
        if conflict
        else None,
    )


def entry(flags: tuple[str, ...] = (), code: int = 503, **kw: Any) -> AccessLogEntry:
    return AccessLogEntry(
        layout="istio-1.23+", response_code=code, response_flags=flags, request_id="r1", **kw
    )


@dataclass
class Row:
    id: str
    verdict: Verdict
    exit: int | None = 0
    status: int | None = None
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    kw: dict[str, Any] = field(default_factory=dict)
    confidence: Confidence | None = None


def local_503(
    name: str, verdict: Verdict, body: str = "", confidence: Confidence | None = None, **kw: Any
) -> Row:
    """A 503 the client's own sidecar wrote (server: envoy, no upstream time); such rows differ in evidence only."""
    return Row(name, verdict, status=503, body=body, headers=LOCAL, kw=kw, confidence=confidence)


TLS = "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"
CONN_RESET = "TLS error: 33554536:system library:OPENSSL_internal:Connection reset by peer"
ROWS = [
    Row("healthy", Verdict.OK, status=200, headers=RELAYED, confidence=Confidence.HIGH),
    Row("healthy-expected-404", Verdict.OK, status=404, kw={"expected_status": 404}),
    Row("curl-missing", Verdict.PROBE_FAILED, exit=127),
    Row("no-exit-code", Verdict.PROBE_FAILED, exit=None),
    Row("dns", Verdict.DNS_FAILURE, exit=6, error="(6) Could not resolve host: nope"),
    Row("curl-timeout", Verdict.PROBE_TIMEOUT, exit=28),
    Row("refused-no-sidecar", Verdict.UPSTREAM_CONNECTION_REFUSED, exit=7, error="(7) Connection refused"),
    Row(
        "connect-timeout-no-sidecar",
        Verdict.UPSTREAM_CONNECT_TIMEOUT,
        exit=7,
        error="(7) Connection timed out",
    ),
    Row("unknown-curl-exit", Verdict.PROBE_FAILED, exit=250, confidence=Confidence.LOW),
    Row(
        "reset-no-sidecar-strict",
        Verdict.PLAINTEXT_CLIENT_REJECTED,
        exit=56,
        error="(56) Recv failure: Connection reset by peer",
        kw={"policy": policy("STRICT")},
        confidence=Confidence.HIGH,
    ),
    Row("empty-reply-no-evidence", Verdict.PLAINTEXT_CLIENT_REJECTED, exit=52, confidence=Confidence.LOW),
    Row(
        "empty-reply-permissive-is-app",
        Verdict.UPSTREAM_RESET,
        exit=52,
        kw={"policy": policy("PERMISSIVE", conflict=False)},
    ),
    Row(
        "curl-tls-expired",
        Verdict.TLS_CERT_EXPIRED,
        exit=60,
        error="(60) SSL certificate problem: certificate has expired",
    ),
    Row(
        "curl-tls-cert-required",
        Verdict.TLS_CLIENT_CERT_REJECTED,
        exit=56,
        status=None,
        error="(56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required",
        kw={"policy": None},
    ),
    Row("no-route-flag", Verdict.NO_ROUTE, status=404, kw={"client_entry": entry(("NR",), 404)}),
    Row("no-route-empty-local-404", Verdict.NO_ROUTE, status=404, headers=LOCAL),
    Row("rbac-body", Verdict.RBAC_DENIED, status=403, body="RBAC: access denied", headers=RELAYED),
    Row(
        "blackhole",
        Verdict.BLACKHOLE,
        status=502,
        kw={"client_entry": entry((), 502, upstream_cluster="BlackHoleCluster")},
    ),
    local_503("no-healthy-upstream-body", Verdict.NO_HEALTHY_UPSTREAM, "no healthy upstream"),
    Row("overflow-flag", Verdict.CIRCUIT_BREAKER_OVERFLOW, status=503, kw={"client_entry": entry(("UO",))}),
    local_503("overflow-body", Verdict.CIRCUIT_BREAKER_OVERFLOW, RESET + "reset reason: overflow"),
    Row(
        "route-timeout",
        Verdict.UPSTREAM_REQUEST_TIMEOUT,
        status=504,
        body="upstream request timeout",
        headers=LOCAL,
    ),
    Row(
        "protocol-error",
        Verdict.UPSTREAM_PROTOCOL_ERROR,
        status=502,
        kw={"client_entry": entry(("UPE",), 502)},
    ),
    local_503(
        "untrusted-urx-uf",
        Verdict.TLS_CERT_UNTRUSTED,
        RESET
        + "retried and the latest reset reason: remote connection failure, transport failure reason: "
        + TLS,
    ),
    local_503(
        "san-details-in-log",
        Verdict.TLS_SAN_MISMATCH,
        client_entry=entry(
            ("URX", "UF"), upstream_transport_failure_reason=TLS + ":verify cert failed: SAN matcher"
        ),
    ),
    local_503(
        "expired-details",
        Verdict.TLS_CERT_EXPIRED,
        client_entry=entry(
            ("UF",),
            upstream_transport_failure_reason=TLS
            + ": X509_verify_cert: certificate verification error at depth 0: certificate has expired",
        ),
    ),
    local_503(
        "mtls-to-plaintext-wrong-version",
        Verdict.MTLS_TO_PLAINTEXT_SERVER,
        client_entry=entry(
            ("UF", "URX"),
            upstream_transport_failure_reason="TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER",
        ),
    ),
    local_503(
        "mtls-to-disable-reset-during-handshake",
        Verdict.MTLS_TO_PLAINTEXT_SERVER,
        RESET + "reset reason: connection failure, transport failure reason: " + CONN_RESET,
    ),
    local_503(
        "simple-tls-closed-by-strict",
        Verdict.TLS_CLIENT_CERT_REJECTED,
        RESET + "reset reason: connection failure, transport failure reason: " + CONN_RESET,
        client_cluster=SIMPLE_CLUSTER,
    ),
    local_503(
        "client-cert-required-alert",
        Verdict.TLS_CLIENT_CERT_REJECTED,
        client_entry=entry(
            ("URX", "UF"),
            upstream_transport_failure_reason="TLS_error:|268436526:SSL_routines:OPENSSL_internal:TLSV13_ALERT_CERTIFICATE_REQUIRED:TLS_error_end",
        ),
    ),
    local_503(
        "refused-local",
        Verdict.UPSTREAM_CONNECTION_REFUSED,
        RESET
        + "retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused",
    ),
    Row(
        "refused-relayed-from-server-sidecar",
        Verdict.UPSTREAM_CONNECTION_REFUSED,
        status=503,
        headers=RELAYED,
        body=RESET
        + "retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: 111",
    ),
    local_503("uc-bare-is-hedged-tls", Verdict.TLS_HANDSHAKE_FAILED, UC_BODY, Confidence.LOW),
    local_503(
        "uc-plaintext-cluster-only",
        Verdict.MTLS_PLAINTEXT_TO_STRICT,
        UC_BODY,
        Confidence.MEDIUM,
        client_cluster=PLAIN_CLUSTER,
    ),
    local_503(
        "uc-plaintext-cluster-and-strict-policy",
        Verdict.MTLS_PLAINTEXT_TO_STRICT,
        UC_BODY,
        Confidence.HIGH,
        client_cluster=PLAIN_CLUSTER,
        policy=policy("STRICT"),
        client_entry=entry(("UC",)),
    ),
    local_503(
        "uc-plaintext-but-intermittent",
        Verdict.UPSTREAM_RESET,
        UC_BODY,
        Confidence.LOW,
        client_cluster=PLAIN_CLUSTER,
        repeatable=False,
    ),
    local_503(
        "uc-plaintext-to-permissive-is-not-mtls",
        Verdict.UPSTREAM_RESET,
        UC_BODY,
        client_cluster=PLAIN_CLUSTER,
        policy=policy("PERMISSIVE", conflict=False),
    ),
    local_503(
        "uc-simple-tls13-client-cert",
        Verdict.TLS_CLIENT_CERT_REJECTED,
        UC_BODY,
        client_cluster=SIMPLE_CLUSTER,
    ),
    local_503(
        "uc-mtls-to-disable-by-policy",
        Verdict.MTLS_TO_PLAINTEXT_SERVER,
        UC_BODY,
        client_cluster=MTLS_CLUSTER,
        policy=policy("DISABLE", client="ISTIO_MUTUAL"),
    ),
    Row(
        "uc-relayed-is-app-close",
        Verdict.UPSTREAM_RESET,
        status=503,
        body=UC_BODY,
        headers=RELAYED,
        confidence=Confidence.HIGH,
    ),
    Row(
        "seed-log-line-only",
        Verdict.TLS_HANDSHAKE_FAILED,
        status=503,
        kw={
            "client_entry": entry(
                ("UC",), upstream_cluster="outbound|9080||productpage.bookinfo.svc.cluster.local"
            )
        },
    ),
    Row(
        "uf-no-reason-10s-is-connect-timeout",
        Verdict.UPSTREAM_CONNECT_TIMEOUT,
        status=503,
        kw={"client_entry": entry(("UF", "URX"), duration_ms=10003)},
    ),
    local_503(
        "stats-san-sharpens-uf",
        Verdict.TLS_SAN_MISMATCH,
        RESET + "reset reason: connection failure",
        client_stats_delta={"cluster.outbound|9080||p.ssl.fail_verify_san": 1},
    ),
    local_503(
        "bare-verify-failed-sharpened-by-san-stat",
        Verdict.TLS_SAN_MISMATCH,
        RESET + "reset reason: connection failure, transport failure reason: " + TLS,
        client_stats_delta={"cluster.outbound|9080||p.ssl.fail_verify_san": 3},
    ),
    Row(
        "old-comma-details-wrong-version",
        Verdict.MTLS_TO_PLAINTEXT_SERVER,
        status=503,
        kw={
            "client_entry": entry(
                ("UF", "URX"),
                response_code_details="upstream_reset_before_response_started{connection_failure,TLS_error:_268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER}",
            )
        },
    ),
    Row(
        "overflow-relayed",
        Verdict.CIRCUIT_BREAKER_OVERFLOW,
        status=503,
        body=RESET + "reset reason: overflow",
        headers=RELAYED,
    ),
    local_503(
        "uc-stats-plaintext-hit-tls-only-listener",
        Verdict.MTLS_PLAINTEXT_TO_STRICT,
        UC_BODY,
        server_stats_delta={
            "listener.10.0.0.1_9080.no_filter_chain_match": 1,
            "tls_inspector.tls_not_found": 1,
        },
    ),
    local_503(
        "uc-stats-server-wanted-client-cert",
        Verdict.TLS_CLIENT_CERT_REJECTED,
        UC_BODY,
        Confidence.HIGH,
        server_stats_delta={"listener.10.0.0.1_9080.ssl.fail_verify_no_cert": 1},
    ),
    local_503(
        "no-client-sidecar-so-termination-is-the-app",
        Verdict.UPSTREAM_RESET,
        UC_BODY,
        client_has_sidecar=False,
    ),
    Row(
        "relayed-without-body-server-saw-app-close",
        Verdict.UPSTREAM_RESET,
        status=503,
        headers=RELAYED,
        kw={
            "client_entry": entry(("URX",), upstream_service_time_ms=4, response_code_details="via_upstream"),
            "server_entry": entry(
                ("UC",),
                response_code_details="upstream_reset_before_response_started{connection_termination}",
            ),
        },
    ),
    Row(
        "blackhole-direct-response",
        Verdict.BLACKHOLE,
        status=502,
        headers=LOCAL,
        kw={"client_entry": entry((), 502, response_code_details="direct_response", route_name="block_all")},
    ),
    local_503(
        "uc-auto-mtls-endpoint-without-istio-label",
        Verdict.MTLS_PLAINTEXT_TO_STRICT,
        UC_BODY,
        client_cluster=ClusterInfo(
            name="outbound|9080||p",
            tls=TlsOrigination.AUTO,
            endpoint_tls_modes={"10.0.0.9:9080": "disabled"},
        ),
        client_entry=entry(("UC",), upstream_host="10.0.0.9:9080"),
    ),
    Row("jwt-denied-relayed", Verdict.RBAC_DENIED, status=401, body="Jwt is missing", headers=RELAYED),
    Row(
        "rate-limited-is-not-app",
        Verdict.UNEXPECTED_STATUS,
        status=429,
        body="local_rate_limited",
        headers=RELAYED,
    ),
    Row(
        "empty-reply-after-client-sidecar-upe",
        Verdict.UPSTREAM_PROTOCOL_ERROR,
        exit=52,
        kw={"client_entry": entry(("UPE",), 0)},
    ),
    Row("app-503-relayed", Verdict.APP_ERROR, status=503, body="oops", headers=RELAYED),
    Row(
        "app-503-retries-exhausted",
        Verdict.APP_ERROR,
        status=503,
        headers=RELAYED,
        kw={
            "client_entry": entry(("URX",), upstream_service_time_ms=5, response_code_details="via_upstream")
        },
    ),
    Row("app-500-no-sidecar", Verdict.APP_ERROR, status=500, body="boom"),
    Row("redirect-not-expected", Verdict.UNEXPECTED_STATUS, status=301, headers=RELAYED),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_ladder(row: Row) -> None:
    kw = dict(row.kw)
    curl = CurlResult(
        exit_code=row.exit,
        http_status=row.status,
        response_headers=row.headers,
        body=row.body,
        error=row.error,
    )
    d = classify(DiagnoseInput(curl=curl, **kw))
    assert d.verdict is row.verdict, d.evidence
    if row.confidence is not None:
        assert d.confidence is row.confidence
    assert d.summary
    assert (d.remedy is None) == (row.verdict is Verdict.OK)


def test_seed_names_destination_rule_and_uses_policy_patch() -> None:
    curl = CurlResult(exit_code=0, http_status=503, response_headers=LOCAL, body=UC_BODY)
    d = classify(DiagnoseInput(curl=curl, client_cluster=PLAIN_CLUSTER, policy=policy("STRICT")))
    assert d.destination_rule == "bookinfo/destrule-productpage"
    assert d.server_mtls_mode == "STRICT" and d.client_tls_mode == "DISABLE"
    assert d.remedy is not None and d.remedy.patch is not None
    assert "ISTIO_MUTUAL" in d.remedy.patch and "LEAST_CONN" in d.remedy.patch
    assert "destrule-productpage" in d.summary


OLD_TLS = "connection_failure,TLS_error:_268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER"
NEW_TLS = "remote_connection_failure|TLS_error:|268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER"


@pytest.mark.parametrize(
    ("details", "shown"),
    [
        pytest.param("via_upstream", None, id="healthy-not-listed"),
        pytest.param("route_not_found", "route_not_found", id="no-braces"),
        pytest.param("x{connection_termination}", "x{connection_termination}", id="reset-only"),
        pytest.param("x{" + NEW_TLS + "}", "x{remote_connection_failure}", id="new-pipe-tls-split-off"),
        pytest.param("x{" + OLD_TLS + "}", "x{connection_failure}", id="old-comma-tls-split-off"),
    ],
)
def test_details_evidence_line(details: str, shown: str | None) -> None:
    # The TLS text of the details has its own evidence line; the details line keeps only the reset reason.
    curl = CurlResult(exit_code=0, http_status=503)
    d = classify(DiagnoseInput(curl=curl, client_entry=entry(("UF",), response_code_details=details)))
    lines = [e for e in d.evidence if e.startswith("response code details: ")]
    assert lines == ([] if shown is None else [f"response code details: {shown}"])


@pytest.mark.parametrize(
    ("exit_code", "error", "line"),
    [
        pytest.param(0, None, None, id="healthy-no-exit-line"),
        pytest.param(
            7, "Failed to connect to p port 80", "curl exit 7: Failed to connect to p port 80", id="curl-text"
        ),
        pytest.param(
            7, None, "curl exit 7 CURLE_COULDNT_CONNECT: failed to connect", id="silent-curl-explained"
        ),
        pytest.param(250, None, "curl exit 250: unknown exit code", id="unknown-code"),
    ],
)
def test_curl_exit_evidence_line(exit_code: int, error: str | None, line: str | None) -> None:
    status = 200 if exit_code == 0 else None
    d = classify(DiagnoseInput(curl=CurlResult(exit_code=exit_code, http_status=status, error=error)))
    lines = [e for e in d.evidence if e.startswith("curl exit ")]
    if line is None:
        assert lines == []
    else:
        assert lines[0].startswith(line), lines  # the facts line comes first
