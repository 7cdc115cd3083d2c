"""Cross-check: Envoy stats deltas of the two sidecars sharpen a hedged transport verdict.

Pure, no I/O. Client cluster counters: `ssl.fail_verify_san` -> SAN mismatch, `ssl.fail_verify_error`
-> the server certificate did not verify (untrusted root or expired), `upstream_rq_pending_overflow`
/ `upstream_cx_overflow` -> circuit breaker. Server listener counters: `ssl.fail_verify_no_cert` /
`ssl.fail_verify_error` -> the server rejected the client's certificate (no cert / untrusted or expired); `no_filter_chain_match`
with `tls_inspector.tls_not_found` -> plaintext reached a TLS-only (STRICT) listener, with
`tls_inspector.tls_found` -> TLS reached a listener without a TLS chain (DISABLE / no mTLS).
Note `upstream_cx_connect_fail` also counts TLS handshake failures, so it never means "refused".
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.diagnose.finding import Finding, raise_
from agent.diagnose.inputs import DiagnoseInput, stat_sum
from agent.diagnose.signals import Signals
from agent.evidence import TlsOrigination
from agent.model import Confidence, Verdict

H, M = Confidence.HIGH, Confidence.MEDIUM

_TRANSPORT = {
    Verdict.TLS_HANDSHAKE_FAILED,
    Verdict.UPSTREAM_RESET,
    Verdict.UPSTREAM_CONNECTION_REFUSED,
    Verdict.MTLS_TO_PLAINTEXT_SERVER,
    Verdict.TLS_CERT_UNTRUSTED,  # only while hedged: a bare CERTIFICATE_VERIFY_FAILED
}


def _listener(delta: Mapping[str, int], suffix: str) -> int:
    return sum(v for k, v in delta.items() if k.startswith("listener.") and k.endswith("." + suffix))


def _sends_istio_mtls(inp: DiagnoseInput) -> bool:
    cluster = inp.client_cluster
    if cluster is not None and cluster.tls is not TlsOrigination.UNKNOWN:
        return cluster.tls in (TlsOrigination.ISTIO_MUTUAL, TlsOrigination.AUTO)
    return inp.policy is not None and inp.policy.client_mode == "ISTIO_MUTUAL"


def apply(inp: DiagnoseInput, sig: Signals, f: Finding) -> Finding:
    c, s = inp.client_stats_delta, inp.server_stats_delta
    if (not c and not s) or f.verdict is Verdict.OK:
        return f
    counts = {
        "client ssl.fail_verify_san": stat_sum(c, "ssl.fail_verify_san"),
        "client ssl.fail_verify_error": stat_sum(c, "ssl.fail_verify_error"),
        "client ssl.connection_error": stat_sum(c, "ssl.connection_error"),
        "client upstream overflow": stat_sum(c, "upstream_rq_pending_overflow")
        + stat_sum(c, "upstream_cx_overflow"),
        "server listener ssl.fail_verify_no_cert": _listener(s, "ssl.fail_verify_no_cert"),
        "server listener ssl.fail_verify_error": _listener(s, "ssl.fail_verify_error")
        + _listener(s, "ssl.fail_verify_san"),
        "server listener ssl.connection_error": _listener(s, "ssl.connection_error"),
        "server listener no_filter_chain_match": _listener(s, "no_filter_chain_match"),
        "server tls_inspector.tls_not_found": stat_sum(s, "tls_inspector.tls_not_found"),
        "server tls_inspector.tls_found": stat_sum(s, "tls_inspector.tls_found"),
    }
    lines = [f"stats: {name} +{n}" for name, n in counts.items() if n]
    if not lines:
        return f
    no_chain = counts["server listener no_filter_chain_match"]
    plaintext_rejected = no_chain and counts["server tls_inspector.tls_not_found"]
    tls_rejected = no_chain and counts["server tls_inspector.tls_found"]
    # no_cert says why; fail_verify_error is an untrusted OR an expired client certificate.
    no_cert = counts["server listener ssl.fail_verify_no_cert"]
    cert_rejected = no_cert or counts["server listener ssl.fail_verify_error"]
    corroborated = {
        Verdict.MTLS_PLAINTEXT_TO_STRICT: plaintext_rejected,
        # TLS matching no chain is also non-Istio TLS (SIMPLE/MUTUAL) reaching a PERMISSIVE sidecar:
        # it proves mTLS-to-plaintext only when the client is known to send Istio mTLS.
        Verdict.MTLS_TO_PLAINTEXT_SERVER: tls_rejected and _sends_istio_mtls(inp),
        Verdict.TLS_CLIENT_CERT_REJECTED: cert_rejected,
        Verdict.TLS_SAN_MISMATCH: counts["client ssl.fail_verify_san"],
    }
    if corroborated.get(f.verdict) and (f.verdict is not Verdict.TLS_CLIENT_CERT_REJECTED or no_cert):
        return f.but(confidence=raise_(f.confidence), add=[*lines, "the server sidecar's counters agree"])
    if not f.hedged or f.verdict not in _TRANSPORT:
        return f.but(add=lines)
    if counts["client upstream overflow"]:
        return f.but(Verdict.CIRCUIT_BREAKER_OVERFLOW, H, "A connection-pool limit was hit.", lines, False)
    if counts["client ssl.fail_verify_san"]:
        summary = "The server's identity (SAN) is not the one the client expects."
        return f.but(Verdict.TLS_SAN_MISMATCH, H, summary, lines, False)
    if counts["client ssl.fail_verify_error"]:
        summary = "The client sidecar could not verify the server certificate (untrusted root, or expired)."
        return f.but(Verdict.TLS_CERT_UNTRUSTED, M, summary, lines, False)
    if cert_rejected:
        summary = "The server required a client certificate it could accept and did not get one."
        return f.but(Verdict.TLS_CLIENT_CERT_REJECTED, H if no_cert else M, summary, lines, False)
    if plaintext_rejected and ("termination" in (sig.reset_reason or "") or "UC" in sig.flags):
        summary = (
            "The client sidecar sent plaintext to a server that only accepts TLS (STRICT mTLS); "
            "the server closed the connection."
        )
        return f.but(Verdict.MTLS_PLAINTEXT_TO_STRICT, M, summary, lines, False)
    if tls_rejected:
        summary = "The client sidecar sent mTLS to a server that does not accept TLS (no sidecar or DISABLE)."
        return f.but(Verdict.MTLS_TO_PLAINTEXT_SERVER, M, summary, lines, False)
    return f.but(add=lines)
