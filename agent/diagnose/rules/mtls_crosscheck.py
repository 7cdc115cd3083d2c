"""Cross-check: a hedged TLS/termination finding against the client cluster's TLS origination and policy.

Pure, no I/O. "Connection termination before headers" from the client sidecar itself is what a
STRICT server does to plaintext (no filter chain matches). It becomes `mtls_plaintext_to_strict`
only when the client's cluster (config dump) shows plaintext origination, or the policy engine
says the client speaks plaintext; high confidence when the server is also known to be STRICT.
Other origins: SIMPLE/MUTUAL TLS to a STRICT server (TLS 1.3 client-cert rejection looks the same)
-> tls_client_cert_rejected; Istio mTLS to a server without mTLS -> mtls_to_plaintext_server.
"""

from __future__ import annotations

from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.signals import Signals
from agent.evidence import TlsOrigination
from agent.model import Confidence, Verdict

H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

_MTLS = {TlsOrigination.ISTIO_MUTUAL, TlsOrigination.AUTO}
_OTHER_TLS = {TlsOrigination.SIMPLE, TlsOrigination.MUTUAL}


def _endpoint(upstream_host: str | None) -> str | None:
    """ "ip:port" of an access log's upstream host; an HBONE upstream is logged as the internal
    address `envoy://connect_originate/<ip:port>`, whose last segment is the endpoint id."""
    if not upstream_host or upstream_host == "-":
        return None
    return upstream_host.rsplit("/", 1)[-1] if upstream_host.startswith("envoy://") else upstream_host


def _client_mode(inp: DiagnoseInput) -> tuple[str | None, str]:
    """The client's TLS origination (DISABLE/ISTIO_MUTUAL/AUTO/SIMPLE/MUTUAL) and where we read it."""
    cl = inp.client_cluster
    host = _endpoint(inp.client_entry.upstream_host if inp.client_entry else None)
    if cl is not None and cl.hbone and host and cl.endpoint_tls_modes.get(host) == "hbone":
        # The `hbone` match wins for an endpoint marked `tunnel: http`: mTLS inside HBONE, whatever
        # the cluster sends to other endpoints (cluster_tls.go applyHBONETransportSocketMatches).
        return "ISTIO_MUTUAL", f"client cluster {cl.name} reaches endpoint {host} over HBONE (mTLS tunnel)"
    if cl is not None and cl.tls is TlsOrigination.AUTO:
        # Auto mTLS picks per endpoint: mTLS only to endpoints labelled tlsMode=istio.
        label = cl.endpoint_tls_modes.get(host or "") if host else None
        if host and cl.endpoint_tls_modes:
            sent = "ISTIO_MUTUAL" if label == "istio" else TlsOrigination.PLAINTEXT.value
            return sent, f"client cluster {cl.name} uses auto mTLS; endpoint {host} tlsMode {label or 'none'}"
        if inp.policy is not None:
            p = inp.policy
            return p.client_mode, f"auto mTLS cluster {cl.name}; policy: client sends {p.client_mode}"
        return cl.tls.value, f"client sidecar cluster {cl.name} uses auto mTLS"
    if cl is not None and cl.tls is not TlsOrigination.UNKNOWN:
        return cl.tls.value, f"client sidecar cluster {cl.name} originates {cl.tls.value}"
    if inp.policy is not None:
        p = inp.policy
        return p.client_mode, f"policy: client sends {p.client_mode} (from {p.client_mode_source})"
    return None, ""


def apply(inp: DiagnoseInput, sig: Signals, f: Finding) -> Finding:
    if not f.hedged or f.verdict is not Verdict.TLS_HANDSHAKE_FAILED or sig.relayed:
        return f
    mode, source = _client_mode(inp)
    server = inp.policy.server_mode if inp.policy is not None else None
    termination = "termination" in (sig.reset_reason or "") or "UC" in sig.flags
    lines = [source] if source else []
    if server:
        pa = inp.policy.peer_authentication if inp.policy else None
        lines.append(f"server mTLS mode {server}" + (f" ({pa})" if pa else ""))
    dr = (inp.client_cluster.destination_rule if inp.client_cluster else None) or (
        inp.policy.destination_rule if inp.policy else None
    )
    if mode == TlsOrigination.PLAINTEXT.value and termination:
        if server in ("PERMISSIVE", "DISABLE", "NONE"):
            lines.append(
                "a server that accepts plaintext would not close the connection: not an mTLS mismatch"
            )
            return f.but(
                Verdict.UPSTREAM_RESET, L, "The connection was closed before a response.", lines, True
            )
        if dr:
            lines.append(f"DestinationRule {dr} decides the client's TLS mode")
        from_cluster = inp.client_cluster is not None and "policy" not in source
        # Observed config + policy agreeing is proof; the policy's prediction alone is strong evidence.
        conf = H if server == "STRICT" and from_cluster else M
        who = f" because of DestinationRule {dr}" if dr else ""
        summary = (
            f"The client sidecar sends plaintext{who} to a server that requires mTLS (STRICT); "
            "the server closes the connection during the handshake."
        )
        return f.but(Verdict.MTLS_PLAINTEXT_TO_STRICT, conf, summary, lines, False)
    if mode in {m.value for m in _OTHER_TLS}:
        summary = (
            f"The client sidecar originates {mode} TLS (no Istio client certificate); the server requires "
            "Istio mTLS and rejects the handshake."
        )
        return f.but(Verdict.TLS_CLIENT_CERT_REJECTED, M if termination else L, summary, lines, False)
    if mode in {m.value for m in _MTLS} and server in ("DISABLE", "NONE"):
        summary = "The client sidecar sends Istio mTLS to a server that does not terminate mTLS."
        return f.but(Verdict.MTLS_TO_PLAINTEXT_SERVER, M, summary, lines, False)
    if mode == TlsOrigination.PLAINTEXT.value and not termination:
        # UF with plaintext origination involves no TLS at all: nothing accepted the connection.
        lines.append("no TLS is involved, so the connection failure is at TCP level")
        return f.but(
            Verdict.UPSTREAM_CONNECTION_REFUSED, L, "The upstream did not accept the connection.", lines, True
        )
    return f.but(add=lines)
