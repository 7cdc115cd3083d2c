"""parse_curl on real curl 7.88 captures (direct and through Envoy 1.40), synthetic shapes, and fuzz."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.probe.curl_output import parse_curl

CURL = Path(__file__).parent / "testdata" / "curl"


def _load(case: str) -> tuple[bytes, bytes, int]:
    d = CURL / case
    return (
        (d / "curl.stdout").read_bytes(),
        (d / "curl.stderr").read_bytes(),
        int((d / "curl.exit").read_text()),
    )


@pytest.mark.parametrize(
    ("case", "exit_code", "status", "connected", "error", "body_start"),
    [
        pytest.param("envoy_ok", 0, 200, True, None, "<!DOCTYPE HTML>", id="healthy-200-via-envoy"),
        pytest.param(
            "envoy_refused",
            0,
            503,
            True,
            None,
            "upstream connect error or disconnect/reset before headers. retried and the latest",
            id="envoy-503-refused",
        ),
        pytest.param(
            "envoy_tls_to_plaintext",
            0,
            503,
            True,
            None,
            "upstream connect error",
            id="envoy-503-tls-to-plain",
        ),
        pytest.param("envoy_no_route", 0, 404, True, None, "", id="envoy-404-no-route"),
        pytest.param("direct_refused", 7, None, False, "(7) Failed to connect", "", id="refused-exit-7"),
        pytest.param("direct_empty_reply", 52, None, True, "(52) Empty reply", "", id="empty-reply-52"),
        pytest.param("direct_timeout", 28, None, True, "(28) Operation timed out", "", id="timeout-28"),
        pytest.param(
            "direct_tls_untrusted",
            60,
            None,
            True,
            "(60) SSL certificate problem",
            "",
            id="curl-tls-untrusted-60",
        ),
        pytest.param("direct_tls_insecure_k", 0, 200, True, None, "hello", id="curl-tls-ok-with-k"),
    ],
)
def test_golden(
    case: str, exit_code: int, status: int | None, connected: bool, error: str | None, body_start: str
) -> None:
    out, err, code = _load(case)
    result = parse_curl(out, err, code)
    assert result.exit_code == exit_code
    assert result.http_status == status
    assert result.connected is connected
    assert (result.error or "").startswith(error or "")
    assert error is not None or result.error is None
    assert result.body.startswith(body_start)
    assert "__MESHPROBER" not in result.body
    assert result.time_total_s is not None and result.notes == ()


def test_golden_tls_version() -> None:
    assert parse_curl(*_load("direct_tls_insecure_k")).tls_version == "TLSv1.3"
    assert parse_curl(*_load("direct_tls_untrusted")).tls_version is None  # handshake never completed


def test_golden_headers_and_remote() -> None:
    out, err, code = _load("envoy_refused")
    result = parse_curl(out, err, code)
    assert result.response_headers["server"] == "envoy"
    assert result.response_headers["content-type"] == "text/plain"
    assert "x-envoy-upstream-service-time" not in result.response_headers  # the sidecar's own reply
    assert (result.remote_ip, result.remote_port) == ("127.0.0.1", 19912)


@pytest.mark.parametrize(
    ("stdout", "stderr", "exit_code", "expect"),
    [
        pytest.param(
            "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
            "*   Trying 10.0.0.1:9080...\n* Connected to productpage (10.0.0.1) port 9080 (#0)\n"
            "> GET / HTTP/1.1\n< HTTP/1.1 503 Service Unavailable\n< content-length: 95\n"
            "< server: envoy\n< \n",
            0,
            {"http_status": 503, "connected": True, "remote_ip": "10.0.0.1", "remote_port": 9080},
            id="no-write-out-fallback-503",
        ),
        pytest.param(
            "",
            "* Established connection to a.b (10.1.2.3 port 80) from 10.0.0.2 port 5000\n< HTTP/1.1 200 OK\n",
            0,
            {"connected": True, "remote_ip": "10.1.2.3", "remote_port": 80, "http_status": 200},
            id="curl-8-established-line",
        ),
        pytest.param(
            "hi",
            "< HTTP/1.1 100 Continue\n< \n< HTTP/2 201 \n< x-a: 1\n< x-a: 2\n",
            None,
            {"http_status": 201, "exit_code": None, "response_headers": {"x-a": "1, 2"}},
            id="last-response-wins",
        ),
        pytest.param(
            "",
            "* Could not resolve host: nope\ncurl: (6) Could not resolve host: nope\n",
            None,
            {"exit_code": 6, "error": "(6) Could not resolve host: nope", "http_status": None},
            id="dns-exit-from-error-line",
        ),
        pytest.param(
            'body\n__MESHPROBER_WRITEOUT__{"response_code": 0, "exitcode": 35, "errormsg": "TLS',
            "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384\n",
            35,
            {"body": "body", "tls_version": "TLSv1.3", "exit_code": 35},
            id="truncated-write-out",
        ),
        pytest.param(
            'ok\n__MESHPROBER_WRITEOUT__{"response_code":200,"exitcode":0,"num_connects":1}',
            "",
            None,
            {"http_status": 200, "exit_code": 0, "connected": True, "body": "ok"},
            id="healthy-exit-from-write-out",
        ),
        pytest.param(
            '\n__MESHPROBER_WRITEOUT__{"response_code":0,"exitcode":56,"errormsg":"Recv failure"}',
            "",
            56,
            {"http_status": None, "error": "(56) Recv failure"},
            id="error-from-write-out",
        ),
    ],
)
def test_shapes(stdout: str, stderr: str, exit_code: int | None, expect: dict[str, object]) -> None:
    result = parse_curl(stdout, stderr, exit_code)
    for key, value in expect.items():
        assert getattr(result, key) == value, key


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.binary(max_size=400), st.text(max_size=400)),
    st.one_of(st.binary(max_size=400), st.text(max_size=400)),
    st.one_of(st.none(), st.integers()),
)
def test_fuzz_never_raises(stdout: str | bytes, stderr: str | bytes, exit_code: int | None) -> None:
    parse_curl(stdout, stderr, exit_code)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(alphabet="<>* HTP/1.0235:(curl)\n", max_size=300))
def test_fuzz_structured_never_raises(tail: str, stderr: str) -> None:
    parse_curl("x\n__MESHPROBER_WRITEOUT__" + tail, stderr, None)
