"""agent.kube.transport_errors: which client failures are retried, and which are a bad server certificate."""

from __future__ import annotations

import ssl

import pytest
import urllib3
import websocket
from kubernetes.client.exceptions import ApiException

from agent.kube.transport_errors import is_transient, tls_error

SERVER = "https://127.0.0.1:6443"


def cert_error(
    message: str | None = "unable to get local issuer certificate",
) -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    if message is not None:  # the ssl module sets it on real handshakes
        err.verify_message = message
    return err


def api_exception(status: int, context: BaseException | None = None) -> ApiException:
    exc = ApiException(status=status, reason="boom")
    exc.__context__ = context
    return exc


def wrapped_in_urllib3(reason: BaseException) -> urllib3.exceptions.MaxRetryError:
    return urllib3.exceptions.MaxRetryError(None, "/api/v1/pods", reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "transient", "tls_detail"),
    [
        pytest.param(ValueError("not json"), False, None, id="healthy-unrelated-error-is-neither"),
        pytest.param(ConnectionRefusedError("refused"), True, None, id="refused-is-transient"),
        pytest.param(TimeoutError("timed out"), True, None, id="timeout-is-transient"),
        pytest.param(
            wrapped_in_urllib3(urllib3.exceptions.NewConnectionError(None, "refused")),  # type: ignore[arg-type]
            True,
            None,
            id="urllib3-max-retry-is-transient",
        ),
        pytest.param(api_exception(503), True, None, id="http-503-is-transient"),
        pytest.param(api_exception(404), False, None, id="http-404-is-final"),
        pytest.param(api_exception(403), False, None, id="http-403-is-final"),
        pytest.param(api_exception(0, ConnectionResetError("reset")), True, None, id="ws-handshake-reset"),
        pytest.param(
            api_exception(0, websocket.WebSocketBadStatusException("Handshake status %d", 403)),
            False,
            None,
            id="ws-bad-status-is-final",
        ),
        pytest.param(cert_error(), False, "unable to get local issuer", id="bare-cert-error"),
        pytest.param(
            wrapped_in_urllib3(urllib3.exceptions.SSLError(cert_error("hostname mismatch"))),
            False,
            "hostname mismatch",
            id="cert-error-nested-in-urllib3-reason",
        ),
        pytest.param(
            api_exception(0, cert_error("self-signed certificate")), False, "self-signed", id="ws-cert-error"
        ),
        pytest.param(cert_error(None), False, "CERTIFICATE_VERIFY_FAILED", id="cert-error-without-message"),
    ],
)
def test_classify(exc: BaseException, transient: bool, tls_detail: str | None) -> None:
    assert is_transient(exc) is transient
    err = tls_error(exc, SERVER)
    if tls_detail is None:
        assert err is None
    else:
        assert err is not None and SERVER in str(err) and tls_detail in str(err)
        assert "certificate-authority" in str(err)
