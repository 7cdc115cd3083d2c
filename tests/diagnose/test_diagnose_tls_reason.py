"""TLS failure texts (Envoy transport failure reasons of every era, curl TLS errors) -> verdict."""

from __future__ import annotations

import pytest

from agent.diagnose.tls_reason import classify_connect_reason, classify_tls_reason
from agent.model import Verdict

V = Verdict
CASES = [
    (
        "wrong-version-old",
        "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER",
        V.MTLS_TO_PLAINTEXT_SERVER,
    ),
    (
        "wrong-version-new",
        "TLS_error:|268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end",
        V.MTLS_TO_PLAINTEXT_SERVER,
    ),
    (
        "packet-length",
        "TLS error: 268435612:SSL routines:OPENSSL_internal:PACKET_LENGTH_TOO_LONG",
        V.MTLS_TO_PLAINTEXT_SERVER,
    ),
    (
        "reset-during-handshake",
        "TLS error: 33554536:system library:OPENSSL_internal:Connection reset by peer",
        V.MTLS_TO_PLAINTEXT_SERVER,
    ),
    (
        "bare-verify-failed",
        "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
        V.TLS_CERT_UNTRUSTED,
    ),
    (
        "untrusted-detail",
        "TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify_cert_failed:_X509_verify_cert:_certificate_verification_error_at_depth_0:_unable_to_get_local_issuer_certificate:TLS_error_end",
        V.TLS_CERT_UNTRUSTED,
    ),
    (
        "san-detail",
        "TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify_cert_failed:_SAN_matcher,_certificate_SANs_are_[spiffe://cluster.local/ns/a/sa/b]:TLS_error_end",
        V.TLS_SAN_MISMATCH,
    ),
    (
        "expired-detail",
        "TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify_cert_failed:_X509_verify_cert:_certificate_verification_error_at_depth_0:_certificate_has_expired:TLS_error_end",
        V.TLS_CERT_EXPIRED,
    ),
    ("not-yet-valid", "CERTIFICATE_VERIFY_FAILED: certificate is not yet valid", V.TLS_CERT_EXPIRED),
    (
        "cert-required-tls13",
        "TLS error: 268436526:SSL routines:OPENSSL_internal:TLSV13_ALERT_CERTIFICATE_REQUIRED",
        V.TLS_CLIENT_CERT_REJECTED,
    ),
    (
        "handshake-failure-alert",
        "TLS error: 268436496:SSL routines:OPENSSL_internal:SSLV3_ALERT_HANDSHAKE_FAILURE",
        V.TLS_CLIENT_CERT_REJECTED,
    ),
    (
        "unknown-ca-alert",
        "TLS error: 268436504:SSL routines:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA",
        V.TLS_CLIENT_CERT_REJECTED,
    ),
    (
        "no-alpn-alert",
        "TLS error: 268436568:SSL routines:OPENSSL_internal:TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
        V.TLS_CLIENT_CERT_REJECTED,
    ),
    ("curl-expired", "(60) SSL certificate problem: certificate has expired", V.TLS_CERT_EXPIRED),
    (
        "curl-self-signed",
        "(60) SSL certificate problem: self-signed certificate in certificate chain",
        V.TLS_CERT_UNTRUSTED,
    ),
    (
        "curl-name-mismatch",
        "(60) SSL: no alternative certificate subject name matches target host name 'x'",
        V.TLS_SAN_MISMATCH,
    ),
    ("other-tls", "TLS error: 268435470:SSL routines:OPENSSL_internal:DECODE_ERROR", V.TLS_HANDSHAKE_FAILED),
]


@pytest.mark.parametrize(("text", "verdict"), [(t, v) for _, t, v in CASES], ids=[c[0] for c in CASES])
def test_tls_reason(text: str, verdict: Verdict) -> None:
    found = classify_tls_reason(text)
    assert found is not None and found.verdict is verdict


@pytest.mark.parametrize(
    ("text", "side"),
    [
        (
            "TLS error: 268436501:SSL routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_EXPIRED",
            "server reports",
        ),
        ("(60) SSL certificate problem: certificate has expired", "in the handshake"),
    ],
    ids=["peer-alert-our-cert-expired", "we-saw-an-expired-cert"],
)
def test_expired_says_which_side(text: str, side: str) -> None:
    # Same verdict either way; the explanation must say whether the peer rejected ours.
    found = classify_tls_reason(text)
    assert found is not None and found.verdict is V.TLS_CERT_EXPIRED and side in found.why


@pytest.mark.parametrize(
    "text", [None, "", "-", "delayed connect error: Connection refused"], ids=["none", "empty", "dash", "tcp"]
)
def test_not_tls(text: str | None) -> None:
    assert classify_tls_reason(text) is None


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("delayed_connect_error:_Connection_refused", V.UPSTREAM_CONNECTION_REFUSED),
        ("delayed connect error: 111", V.UPSTREAM_CONNECTION_REFUSED),
        ("connection timeout", V.UPSTREAM_CONNECT_TIMEOUT),
        ("(7) Failed to connect to x port 80: Connection timed out", V.UPSTREAM_CONNECT_TIMEOUT),
        ("connection termination", None),
    ],
    ids=["refused-new", "refused-errno", "envoy-timeout", "curl-timeout", "termination-is-not-tcp"],
)
def test_connect_reason(text: str, verdict: Verdict | None) -> None:
    assert classify_connect_reason(text) is verdict
