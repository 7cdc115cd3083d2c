"""Cross-check: a certificate a sidecar holds that had expired before the probe -> tls_cert_expired.

Pure, no I/O. Envoy's `ssl.certificate.<secret>.expiration_unix_time_seconds` gauge (client cluster or
server listener stats) dates each certificate in use. Under TLS 1.3 a server rejecting the client's
expired certificate looks like any client-cert rejection (client `UC` connection termination, server
`ssl.fail_verify_error`), and only the gauge says why; an expired server certificate usually names
itself in the transport failure reason already.
"""

from __future__ import annotations

from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.signals import Signals
from agent.model import Confidence, Verdict

H, M = Confidence.HIGH, Confidence.MEDIUM

# Findings a rejected/failed handshake can produce whatever the certificate's problem was.
_CLIENT_SIDE = {Verdict.TLS_CLIENT_CERT_REJECTED, Verdict.TLS_HANDSHAKE_FAILED}
_SERVER_SIDE = {Verdict.TLS_CERT_UNTRUSTED, Verdict.TLS_HANDSHAKE_FAILED}


def apply(inp: DiagnoseInput, sig: Signals, f: Finding) -> Finding:
    if not inp.expired_certs or sig.relayed:
        return f
    client = [name for side, name in inp.expired_certs if side == "client"]
    server = [name for side, name in inp.expired_certs if side == "server"]
    if client and f.verdict in _CLIENT_SIDE:
        lines = [
            f"client sidecar certificate {n!r} expired before the probe (stats expiry gauge)" for n in client
        ]
        # The server rejecting a certificate we know is expired is the whole story.
        conf = H if f.verdict is Verdict.TLS_CLIENT_CERT_REJECTED else M
        summary = "The client sidecar's own certificate has expired; the server rejects it in the handshake."
        return f.but(Verdict.TLS_CERT_EXPIRED, conf, summary, lines, False)
    if server and f.verdict in _SERVER_SIDE:
        lines = [
            f"server sidecar certificate {n!r} expired before the probe (stats expiry gauge)" for n in server
        ]
        summary = "The server sidecar's certificate has expired; the client cannot verify it."
        return f.but(Verdict.TLS_CERT_EXPIRED, M, summary, lines, False)
    return f
