"""Transport-failure analysis: UF / UC / UR / LR / URX and Envoy's "upstream connect error" replies.

Pure, no I/O. Order of reasoning (the mechanism, not the wording):
1. A reply *relayed* from the server side means the server sidecar reached (or failed to reach)
   the app on its own pod: no mesh TLS is involved, so refused -> app not listening, termination
   or reset -> the app dropped the connection.
2. The client sidecar's own reply: the transport failure reason names the TLS cause
   (verify failed, SAN, expiry, alert from the peer, plaintext answer); a TCP reason names refused
   or timeout; "connection termination" with no reason is a hedged TLS handshake failure that the
   mTLS cross-check (rules/mtls_crosscheck.py) sharpens with the cluster's TLS origination and policy.
"""

from __future__ import annotations

from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.signals import Signals
from agent.diagnose.tls_reason import classify_connect_reason, classify_tls_reason
from agent.evidence import TlsOrigination
from agent.model import Confidence, Verdict

H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

TERMINATION_SUMMARY = (
    "The connection was closed before any response headers (likely TLS handshake error); "
    "the evidence does not show which side's TLS settings are wrong."
)


PROTOCOL_SUMMARY = (
    "The upstream answered in a protocol the sidecar could not parse as the port's declared protocol "
    "(e.g. TLS or HTTP/2 from an app on an HTTP/1 port)."
)


def _other_tls_origin(inp: DiagnoseInput) -> str | None:
    """SIMPLE/MUTUAL when the client cluster (or, without a dump, the policy engine) says so."""
    cluster = inp.client_cluster
    if cluster is not None and cluster.tls is not TlsOrigination.UNKNOWN:
        return cluster.tls.value if cluster.tls in (TlsOrigination.SIMPLE, TlsOrigination.MUTUAL) else None
    if inp.policy is not None and inp.policy.client_mode in ("SIMPLE", "MUTUAL"):
        return inp.policy.client_mode
    return None


def _relayed(inp: DiagnoseInput, sig: Signals, ev: list[str]) -> Finding:
    ev.append("the response was relayed from the server side (x-envoy-upstream-service-time / via_upstream)")
    parts = (sig.transport_failure, sig.reset_reason, sig.server_transport_failure, sig.server_reset_reason)
    reason = " ".join(x for x in parts if x)
    connect = classify_connect_reason(reason)
    if connect is not None:
        return Finding(connect, H, "The server sidecar could not connect to the application.", tuple(ev))
    if "protocol error" in reason:
        # The server sidecar's HTTP codec could not parse the app's reply (TLS, HTTP/2 or junk).
        return Finding(Verdict.UPSTREAM_PROTOCOL_ERROR, H, PROTOCOL_SUMMARY, tuple(ev))
    if "UF" in sig.server_flags or "connection failure" in reason:
        # The server sidecar's upstream is the app on its own pod: a failed connect there is a refusal.
        return Finding(
            Verdict.UPSTREAM_CONNECTION_REFUSED,
            M,
            "The server sidecar could not connect to the app.",
            tuple(ev),
        )
    return Finding(
        Verdict.UPSTREAM_RESET,
        H if (sig.reset_reason or sig.server_flags) else M,
        "The application closed or reset the connection before answering (seen by the server sidecar).",
        tuple(ev),
    )


def analyse(inp: DiagnoseInput, sig: Signals, ev: list[str]) -> Finding:
    """Classify a transport failure; `ev` already holds the basic facts."""
    tfr = sig.transport_failure
    reset = sig.reset_reason or ""
    if "overflow" in reset:  # a circuit breaker on either sidecar
        return Finding(Verdict.CIRCUIT_BREAKER_OVERFLOW, H, "A connection-pool limit was hit.", tuple(ev))
    if sig.relayed:
        return _relayed(inp, sig, ev)
    tls = classify_tls_reason(tfr)
    if tls is not None:
        verdict = tls.verdict
        other = _other_tls_origin(inp)
        if verdict is Verdict.MTLS_TO_PLAINTEXT_SERVER and other and "closed" in tls.why:
            # A sidecar's inbound closes non-Istio TLS (no Istio ALPN / no Istio client cert) the same way.
            verdict = Verdict.TLS_CLIENT_CERT_REJECTED
            ev.append(f"the client originates {other} TLS, not Istio mTLS")
        ev.append(f"TLS failure: {tls.why}")
        # A close during the handshake is less specific than an explicit reason (WRONG_VERSION, verify).
        vague = verdict is Verdict.TLS_HANDSHAKE_FAILED or "closed" in tls.why or tls.generic
        summary = f"TLS handshake to the upstream failed: {tls.why}."
        return Finding(verdict, M if vague else H, summary, tuple(ev), hedged=tls.generic)
    connect = classify_connect_reason(tfr) or classify_connect_reason(reset)
    if connect is not None:
        what = "refused" if connect is Verdict.UPSTREAM_CONNECTION_REFUSED else "timed out"
        return Finding(connect, H, f"The client sidecar's connection to the upstream was {what}.", tuple(ev))
    if "protocol error" in reset:
        return Finding(Verdict.UPSTREAM_PROTOCOL_ERROR, H, PROTOCOL_SUMMARY, tuple(ev))
    if "termination" in reset or "UC" in sig.flags:
        return Finding(Verdict.TLS_HANDSHAKE_FAILED, L, TERMINATION_SUMMARY, tuple(ev), hedged=True)
    if "remote reset" in reset or "UR" in sig.flags:
        return Finding(
            Verdict.UPSTREAM_RESET, M, "The upstream reset the stream after connecting.", tuple(ev)
        )
    if "local reset" in reset or "LR" in sig.flags:
        return Finding(Verdict.UPSTREAM_RESET, L, "The client sidecar reset the upstream stream.", tuple(ev))
    if "UF" in sig.flags or "failure" in reset:
        entry = inp.client_entry
        if entry is not None and entry.duration_ms is not None and entry.duration_ms >= 9000:
            # Istio's default connect timeout is 10 s: a UF that took that long is a connect timeout.
            ev.append(f"the failed request took {entry.duration_ms} ms (Istio's connect timeout is 10 s)")
            return Finding(
                Verdict.UPSTREAM_CONNECT_TIMEOUT, M, "Connecting to the upstream timed out.", tuple(ev)
            )
        # Say what was recorded: a reason we cannot map (e.g. `delayed_connect_error:_Invalid_argument`)
        # is still a reason, and "none recorded" next to it in the evidence would contradict it.
        why = f"the recorded reason ({tfr}) names neither" if tfr else "no failure reason was recorded"
        return Finding(
            Verdict.TLS_HANDSHAKE_FAILED,
            L,
            "The client sidecar could not establish the upstream connection (TLS handshake error or "
            f"nothing listening); {why}.",
            tuple(ev),
            hedged=True,
        )
    return Finding(
        Verdict.UPSTREAM_RESET, L, "The upstream connection failed before a response.", tuple(ev), hedged=True
    )
