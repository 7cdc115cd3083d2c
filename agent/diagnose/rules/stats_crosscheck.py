"""Cross-check: Envoy stats deltas of the two sidecars sharpen a hedged transport verdict.

Pure, no I/O. Per-cluster counters (client side): `ssl.fail_verify_san` -> SAN mismatch,
`ssl.fail_verify_error` -> untrusted certificate, `ssl.connection_error` -> a TLS failure,
`upstream_cx_connect_fail` without TLS errors -> refused, `upstream_rq_pending_overflow` /
`upstream_cx_overflow` -> circuit breaker. Server side: `ssl.connection_error` /
`no_filter_chain_match` show the server rejected the handshake.
"""

from __future__ import annotations

from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput, stat_sum
from agent.diagnose.signals import Signals
from agent.model import Confidence, Verdict

_TRANSPORT = {
    Verdict.TLS_HANDSHAKE_FAILED,
    Verdict.UPSTREAM_RESET,
    Verdict.UPSTREAM_CONNECTION_REFUSED,
    Verdict.MTLS_TO_PLAINTEXT_SERVER,
}


def apply(inp: DiagnoseInput, sig: Signals, f: Finding) -> Finding:
    c, s = inp.client_stats_delta, inp.server_stats_delta
    if not c and not s:
        return f
    san = stat_sum(c, "ssl.fail_verify_san")
    verify = stat_sum(c, "ssl.fail_verify_error")
    ssl_err = stat_sum(c, "ssl.connection_error")
    connect_fail = stat_sum(c, "upstream_cx_connect_fail")
    overflow = stat_sum(c, "upstream_rq_pending_overflow") + stat_sum(c, "upstream_cx_overflow")
    server_rejects = stat_sum(s, "ssl.connection_error") + stat_sum(s, "no_filter_chain_match")
    lines = []
    for name, n in (
        ("client ssl.fail_verify_san", san),
        ("client ssl.fail_verify_error", verify),
        ("client ssl.connection_error", ssl_err),
        ("client upstream_cx_connect_fail", connect_fail),
        ("client upstream_rq_pending_overflow/upstream_cx_overflow", overflow),
        ("server ssl.connection_error/no_filter_chain_match", server_rejects),
    ):
        if n:
            lines.append(f"stats: {name} +{n}")
    if not lines or f.verdict is Verdict.OK:
        return f
    if not f.hedged and f.confidence is Confidence.HIGH:
        return f.but(add=lines)
    if overflow and f.verdict in _TRANSPORT:
        return f.but(
            Verdict.CIRCUIT_BREAKER_OVERFLOW,
            Confidence.HIGH,
            "A connection-pool limit was hit.",
            lines,
            False,
        )
    if san and f.verdict in _TRANSPORT:
        return f.but(
            Verdict.TLS_SAN_MISMATCH,
            Confidence.HIGH,
            "The server's identity (SAN) is not the expected one.",
            lines,
            False,
        )
    if verify and f.verdict in _TRANSPORT:
        return f.but(
            Verdict.TLS_CERT_UNTRUSTED,
            Confidence.MEDIUM,
            "The client sidecar could not verify the server certificate (untrusted root or expired).",
            lines,
            False,
        )
    if connect_fail and not ssl_err and f.verdict is Verdict.TLS_HANDSHAKE_FAILED and "UC" not in sig.flags:
        return f.but(
            Verdict.UPSTREAM_CONNECTION_REFUSED,
            Confidence.MEDIUM,
            "The upstream refused the connection (no TLS error counted).",
            lines,
            False,
        )
    return f.but(add=lines)
