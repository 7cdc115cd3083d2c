"""build_curl_argv: the exact argv contract, and clear InputErrors for unsafe input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import InputError
from agent.probe.argv import MAX_FILESIZE, WRITE_OUT_MARKER, build_curl_argv

WO = "\n__MESHPROBER_WRITEOUT__%{json}"


def test_marker_is_in_the_write_out_format() -> None:
    assert WRITE_OUT_MARKER == "__MESHPROBER_WRITEOUT__"


@pytest.mark.parametrize(
    ("url", "timeout", "headers", "expected_tail"),
    [
        pytest.param("http://productpage:9080/productpage", 5, None, [], id="healthy-short-host"),
        pytest.param("https://10.0.0.1:8443/a?b=c&d=%20", 2.5, None, [], id="https-ip-query"),
        pytest.param("http://[::1]:8080/", 1, None, [], id="ipv6-literal"),
        pytest.param(
            "http://reviews.bookinfo.svc.cluster.local/",
            10,
            {"Accept": "application/json", "x-b3-sampled": "0"},
            ["-H", "Accept: application/json", "-H", "x-b3-sampled: 0"],
            id="extra-headers-before-w",
        ),
    ],
)
def test_argv_contract(
    url: str, timeout: float, headers: dict[str, str] | None, expected_tail: list[str]
) -> None:
    argv = build_curl_argv(url, request_id="rid-1", timeout_s=timeout, headers=headers)
    head = ["curl", "-q", "-sS", "-v", "--noproxy", "*", "--proto", "=http,https", "--globoff"]
    head += [
        "--max-filesize",
        str(MAX_FILESIZE),
        "--max-time",
        f"{float(timeout):g}",
        "-H",
        "x-request-id: rid-1",
    ]
    assert argv == [*head, *expected_tail, "-w", WO, url]


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        pytest.param("ftp://x/", {}, "scheme must be http or https", id="ftp-scheme"),
        pytest.param("-o/etc/passwd", {}, "scheme", id="option-injection"),
        pytest.param("http://", {}, "missing host", id="no-host"),
        pytest.param("http://a b/", {}, "whitespace", id="space-in-host"),
        pytest.param("http://x/$(id)\n", {}, "control", id="newline"),
        pytest.param("http://x:0/", {}, "port must be", id="port-zero"),
        pytest.param("http://x:70000/", {}, "port must be", id="port-too-big"),
        pytest.param("http://x:abc/", {}, "port must be", id="port-not-number"),
        pytest.param("http://bad_-.-host/", {}, "bad host name", id="bad-label"),
        pytest.param("http://999.1.1.1/", {}, "bad IPv4", id="bad-ipv4"),
        pytest.param("http://[zz::1]/", {}, "IPv6", id="bad-ipv6"),
        pytest.param("http://u:p@x/", {}, "user info", id="credentials"),
        pytest.param('http://x/a"b', {}, "percent-encoded", id="quote-in-path"),
        pytest.param("http://x/%zz", {}, "percent-encoded", id="bad-percent"),
        pytest.param("http://x/#frag", {}, "fragment", id="fragment"),
        pytest.param("http://x/", {"request_id": "a b"}, "request id", id="bad-request-id"),
        pytest.param("http://x/", {"request_id": "rid\n"}, "request id", id="request-id-trailing-newline"),
        pytest.param(
            "http://x/", {"headers": {"X-A\n": "v"}}, "header name", id="header-name-trailing-newline"
        ),
        pytest.param("http://x/", {"timeout_s": 0}, "timeout", id="zero-timeout"),
        pytest.param("http://x/", {"timeout_s": float("nan")}, "timeout", id="nan-timeout"),
        pytest.param("http://x/", {"headers": {"Bad Name": "v"}}, "header name", id="bad-header-name"),
        pytest.param("http://x/", {"headers": {"X-A": "v\r\nX-B: 1"}}, "control", id="header-crlf"),
        pytest.param("http://x/", {"headers": {"X-Request-Id": "v"}}, "x-request-id", id="dup-request-id"),
    ],
)
def test_bad_input_names_the_problem(url: str, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"request_id": "rid", "timeout_s": 3.0, **kwargs}
    with pytest.raises(InputError, match=message):
        build_curl_argv(url, **args)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_fuzz_url_only_input_error(url: str) -> None:
    try:
        argv = build_curl_argv(url, request_id="r", timeout_s=1)
    except InputError:
        return
    assert argv[-1] == url and url.startswith(
        ("http://", "https://", "HTTP", "Http", "hTTP", "htt", "H", "h")
    )
