"""Ladder rungs 1-2: the probe did not run, or curl failed before any HTTP response. Pure, no I/O.

Mechanism: a client sidecar (iptables redirect) always accepts the TCP connection and answers with
HTTP, so "connection refused" (7) or "empty reply / reset" (52/56) mean no sidecar stood between
curl and the server: the server (or its sidecar) refused, reset or closed the plaintext connection.
"""

from __future__ import annotations

from agent.diagnose import catalog
from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput, stat_sum
from agent.diagnose.signals import Signals
from agent.diagnose.tls_reason import classify_connect_reason, classify_tls_reason
from agent.model import Confidence, Verdict

H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

_SUMMARY: dict[Verdict, str] = {
    Verdict.PROBE_FAILED: "The probe could not run (an agent-side problem, not a mesh verdict).",
    Verdict.DNS_FAILURE: "The target host name did not resolve.",
    Verdict.PROBE_TIMEOUT: "The probe's own deadline passed before a response arrived.",
    Verdict.UPSTREAM_PROTOCOL_ERROR: "The server answered in a protocol curl could not read.",
    Verdict.UPSTREAM_RESET: "The connection was closed while the response was in flight.",
    Verdict.TLS_HANDSHAKE_FAILED: "curl's TLS handshake failed.",
    Verdict.UNEXPECTED_STATUS: "The server kept redirecting.",
    Verdict.TLS_CERT_UNTRUSTED: "The server certificate is not trusted.",
    Verdict.TLS_SAN_MISMATCH: "The server certificate does not match the host name.",
    Verdict.TLS_CLIENT_CERT_REJECTED: "The server required a client certificate.",
}


def _curl_text(inp: DiagnoseInput) -> str:
    return " ".join(x for x in (inp.curl.error, *inp.curl.notes) if x)


def _reset_by_peer(inp: DiagnoseInput, ev: list[str]) -> Finding:
    """curl 52/56: the server side closed a connection that no client sidecar mediated."""
    policy = inp.policy
    server = inp.server_entry
    client = inp.client_entry
    if client is not None:
        # The client sidecar logged the request, so it (not a STRICT server) closed curl's connection.
        ev.append("the client sidecar logged this request and then closed the connection to curl")
        for flag, handling in catalog.FLAG_VERDICTS.items():
            if flag in client.response_flags and isinstance(handling, Verdict):
                return Finding(handling, M, "The client sidecar gave up on the request.", tuple(ev))
        return Finding(
            Verdict.UPSTREAM_RESET, L, "The connection was reset mid-request.", tuple(ev), hedged=True
        )
    if server is not None:
        ev.append("the server sidecar logged this request: the reset came after it, from the app")
        return Finding(Verdict.UPSTREAM_RESET, M, "The server side reset the connection.", tuple(ev))
    rejected = (
        stat_sum(inp.server_stats_delta, "no_filter_chain_match")
        + stat_sum(inp.server_stats_delta, "ssl.connection_error")
        + stat_sum(inp.server_stats_delta, "downstream_cx_protocol_error")
    )
    if inp.client_has_sidecar is False:
        ev.append("the probing pod has no sidecar: curl spoke plaintext straight to the server")
    if policy is not None and policy.server_mode == "STRICT":
        ev.append(f"server mTLS mode STRICT ({policy.peer_authentication or 'policy'})")
        return Finding(
            Verdict.PLAINTEXT_CLIENT_REJECTED,
            H,
            "A client without a sidecar sent plaintext to a server that requires mTLS (STRICT).",
            tuple(ev),
        )
    if rejected:
        ev.append(f"server sidecar rejected {rejected} connection(s) (no filter chain / TLS error)")
        return Finding(
            Verdict.PLAINTEXT_CLIENT_REJECTED,
            M,
            "The server sidecar refused a plaintext connection: it likely requires mTLS (STRICT).",
            tuple(ev),
        )
    if policy is not None:
        ev.append(f"server mTLS mode {policy.server_mode}: plaintext is accepted, so the app reset it")
        return Finding(Verdict.UPSTREAM_RESET, M, "The server closed the connection.", tuple(ev))
    # A missing line is evidence only when the server sidecar is known to log every request.
    absent = inp.server_log_present and inp.server_logging_on
    if absent:
        ev.append("the server sidecar never logged the request: its listener dropped the connection")
    return Finding(
        Verdict.PLAINTEXT_CLIENT_REJECTED,
        M if absent else L,
        "The server closed the connection without an HTTP answer: likely a plaintext client "
        "rejected by a STRICT (mTLS-only) server.",
        tuple(ev),
        hedged=True,
    )


def curl_rung(inp: DiagnoseInput, sig: Signals, ev: list[str]) -> Finding | None:
    code = inp.curl.exit_code
    if code is None and not inp.curl_present:
        ev.append("the bundle holds no curl output: judged from the sidecar access log")
        return None
    if code is None:
        ev.append("no curl exit code")
        return Finding(Verdict.PROBE_FAILED, L, "The probe reported no exit code.", tuple(ev))
    if code == 0 or (sig.status is not None and code not in (28, 126, 127, 137)):
        return None  # an HTTP response arrived: the status rungs decide
    handling = catalog.curl_exit_handling(code)
    if code not in catalog.CURL_EXIT_VERDICTS:
        ev.append(f"curl exit {code} is not a known curl error")
    if isinstance(handling, Verdict):
        conf = H if code in catalog.CURL_EXIT_VERDICTS else L
        return Finding(handling, conf, _SUMMARY.get(handling, f"curl failed with exit {code}."), tuple(ev))
    text = _curl_text(inp)
    if code == 7:
        verdict = classify_connect_reason(text) or Verdict.UPSTREAM_CONNECTION_REFUSED
        what = "refused" if verdict is Verdict.UPSTREAM_CONNECTION_REFUSED else "timed out"
        if inp.client_has_sidecar:
            # The pod's outbound traffic is captured by its sidecar, and a running sidecar always
            # accepts: so it is the sidecar that is not there (killed, restarting, not ready), unless
            # this port or address range is excluded from capture.
            ev.append(
                "the source pod has an istio-proxy sidecar, yet curl could not connect: the sidecar is "
                "not accepting (not running, restarting or not ready), or this traffic bypasses it"
            )
            return Finding(
                verdict,
                M,
                f"Connecting {what}: the source pod's own istio-proxy sidecar is not accepting "
                "connections (not running or not ready), or the traffic is excluded from capture.",
                tuple(ev),
            )
        ev.append("curl could not connect, so no client sidecar is in the path (a sidecar always accepts)")
        return Finding(verdict, H if text else M, f"Connecting to the server {what}.", tuple(ev))
    if code in (35, 60):
        tls = classify_tls_reason(text)
        verdict = (
            tls.verdict
            if tls
            else (Verdict.TLS_CERT_UNTRUSTED if code == 60 else Verdict.TLS_HANDSHAKE_FAILED)
        )
        why = tls.why if tls else "curl's TLS handshake failed"
        return Finding(verdict, H if tls else M, f"TLS handshake failed: {why}.", tuple(ev))
    if code in (52, 56):
        tls = classify_tls_reason(text)  # curl spoke TLS itself (https URL): the alert names the cause
        if tls is not None:
            return Finding(tls.verdict, H, f"TLS failed: {tls.why}.", tuple(ev))
        return _reset_by_peer(inp, ev)
    return Finding(Verdict.PROBE_FAILED, L, f"curl failed with exit {code}.", tuple(ev))
