"""Map a TLS failure text (Envoy's upstream transport failure reason, curl's TLS error) to a verdict.

Pure string logic, no I/O. Envoy writes the reason as `TLS error: <code>:SSL routines:...:REASON` and,
in access logs of newer Envoy, with `_` for spaces and `|` joining parts (`TLS_error:|268435581:...`);
the text is normalised first. Which side raised the error is the mechanism: a local
CERTIFICATE_VERIFY_FAILED means *we* rejected the server's certificate; a received alert
(`SSLV3_ALERT_*`, `TLSV1_ALERT_*`, `TLSV13_ALERT_*`) means the *server* rejected us.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.model import Verdict


@dataclass(frozen=True)
class ReasonVerdict:
    verdict: Verdict
    why: str
    # True when the text names the class of failure but not the exact check (older Envoy writes a bare
    # CERTIFICATE_VERIFY_FAILED for untrusted, SAN and expiry alike): cross-checks may still sharpen it.
    generic: bool = False


def normalise(text: str) -> str:
    """Lower-case, `_`/`|` to spaces, whitespace collapsed: one form for every Envoy era."""
    return " ".join(text.replace("_", " ").replace("|", " ").lower().split())


# (substring of the normalised reason, verdict, why) — first hit wins, most specific first.
_RULES: tuple[tuple[str, Verdict, str], ...] = (
    # Our side refused the server certificate. Details (newer Envoy) say which check failed.
    ("san matcher", Verdict.TLS_SAN_MISMATCH, "server certificate SAN did not match the expected identity"),
    ("subject alt", Verdict.TLS_SAN_MISMATCH, "server certificate SAN did not match the expected identity"),
    ("hostname mismatch", Verdict.TLS_SAN_MISMATCH, "server certificate name did not match"),
    ("no alternative certificate subject name", Verdict.TLS_SAN_MISMATCH, "server certificate name mismatch"),
    ("does not match target host", Verdict.TLS_SAN_MISMATCH, "server certificate name did not match"),
    # Before "certificate expired", which is a substring of this alert and would shadow it.
    ("alert certificate expired", Verdict.TLS_CERT_EXPIRED, "the server reports our certificate expired"),
    ("certificate has expired", Verdict.TLS_CERT_EXPIRED, "a certificate in the handshake has expired"),
    ("certificate expired", Verdict.TLS_CERT_EXPIRED, "a certificate in the handshake has expired"),
    ("certificate is not yet valid", Verdict.TLS_CERT_EXPIRED, "a certificate is not yet valid"),
    ("not yet valid", Verdict.TLS_CERT_EXPIRED, "a certificate is not yet valid"),
    # The peer told us it rejected our certificate (or that we sent none).
    ("certificate required", Verdict.TLS_CLIENT_CERT_REJECTED, "server required a client certificate"),
    ("alert unknown ca", Verdict.TLS_CLIENT_CERT_REJECTED, "server does not trust our client certificate"),
    ("alert bad certificate", Verdict.TLS_CLIENT_CERT_REJECTED, "server rejected our client certificate"),
    ("alert certificate unknown", Verdict.TLS_CLIENT_CERT_REJECTED, "server rejected our client certificate"),
    (
        "alert handshake failure",
        Verdict.TLS_CLIENT_CERT_REJECTED,
        "server aborted the handshake (no or bad client cert, or no Istio ALPN)",
    ),
    (
        "no application protocol",
        Verdict.TLS_CLIENT_CERT_REJECTED,
        "server requires Istio mTLS (ALPN istio); the client offered other TLS",
    ),
    (
        "peer did not return a certificate",
        Verdict.TLS_CLIENT_CERT_REJECTED,
        "server required a client certificate",
    ),
    # Our side refused the server certificate for its issuer.
    ("unable to get local issuer", Verdict.TLS_CERT_UNTRUSTED, "server certificate issuer is not trusted"),
    ("unable to get issuer", Verdict.TLS_CERT_UNTRUSTED, "server certificate issuer is not trusted"),
    ("self signed", Verdict.TLS_CERT_UNTRUSTED, "server certificate is self-signed / from an unknown root"),
    ("self-signed", Verdict.TLS_CERT_UNTRUSTED, "server certificate is self-signed / from an unknown root"),
    (
        "certificate signature failure",
        Verdict.TLS_CERT_UNTRUSTED,
        "server certificate signature does not verify",
    ),
    (
        "certificate verify failed",
        Verdict.TLS_CERT_UNTRUSTED,
        "server certificate did not verify against the trusted root",
    ),
    (
        "verify cert failed",
        Verdict.TLS_CERT_UNTRUSTED,
        "server certificate did not verify against the trusted root",
    ),
    # The server does not speak TLS at all: its plaintext bytes broke our handshake.
    ("wrong version number", Verdict.MTLS_TO_PLAINTEXT_SERVER, "server answered the TLS hello in plaintext"),
    (
        "packet length too long",
        Verdict.MTLS_TO_PLAINTEXT_SERVER,
        "server answered the TLS hello in plaintext",
    ),
    ("http request", Verdict.MTLS_TO_PLAINTEXT_SERVER, "server answered the TLS hello in plaintext"),
    ("unknown protocol", Verdict.MTLS_TO_PLAINTEXT_SERVER, "server answered the TLS hello in plaintext"),
    ("record layer failure", Verdict.MTLS_TO_PLAINTEXT_SERVER, "server answered the TLS hello in plaintext"),
)

_GENERIC = {"certificate verify failed", "verify cert failed"}

# Texts that mean the peer closed during the TLS handshake: a server without a TLS filter chain.
_CLOSED_DURING_HANDSHAKE = (
    "connection reset by peer",
    "unexpected eof",
    "connection closed",
    "eof while reading",
    "syscall",
    "broken pipe",
)


def is_tls_text(reason: str) -> bool:
    """True when the reason is a TLS-layer error (not a TCP connect error)."""
    n = normalise(reason)
    return "tls error" in n or "ssl" in n or "openssl" in n or "boringssl" in n or "certificate" in n


def classify_tls_reason(reason: str | None) -> ReasonVerdict | None:
    """The verdict a TLS failure text supports, or None when it is not a recognisable TLS failure."""
    if not reason:
        return None
    n = normalise(reason)
    for needle, verdict, why in _RULES:
        if needle in n:
            return ReasonVerdict(verdict, why, generic=needle in _GENERIC)
    if not is_tls_text(reason):
        return None
    if any(c in n for c in _CLOSED_DURING_HANDSHAKE):
        return ReasonVerdict(
            Verdict.MTLS_TO_PLAINTEXT_SERVER, "server closed the connection during the TLS handshake"
        )
    return ReasonVerdict(Verdict.TLS_HANDSHAKE_FAILED, "TLS handshake failed")


def classify_connect_reason(text: str | None) -> Verdict | None:
    """TCP-level reasons: refused / timed out (Envoy reset reasons and connect errors, curl errors)."""
    if not text:
        return None
    n = normalise(text)
    if "refused" in n or "errno 111" in n or "error: 111" in n or n.endswith(" 111"):
        return Verdict.UPSTREAM_CONNECTION_REFUSED
    if "connection timeout" in n or "timed out" in n or "connect timeout" in n or "errno 110" in n:
        return Verdict.UPSTREAM_CONNECT_TIMEOUT
    # errno 113 (EHOSTUNREACH), as older Envoy writes it: `delayed connect error: 113` (istio/istio#46431).
    unreachable = n.endswith(" 113") or "errno 113" in n
    if unreachable or "no route to host" in n or "network is unreachable" in n or "host is unreachable" in n:
        return Verdict.UPSTREAM_CONNECT_TIMEOUT
    return None
