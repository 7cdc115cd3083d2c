"""Access-log parsing: the seed line, real fixture and Envoy 1.40 lines, every layout, fuzz."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.envoy.access_log import find_by_request_id, parse_line, parse_log, readable_reason, tokenize
from agent.envoy.log_tokens import reason_from_details, split_details
from tests.support.shared_data import REAL

FIXTURE = REAL / "access_logs" / "istio_access_log_samples.txt"
ENVOY140 = Path(__file__).parent / "testdata" / "envoy-1.40"

SEED = (
    '[2019-10-07T21:54:37.175Z] "GET /productpage HTTP/1.1" 503 UC "-" "-" 0 95 1 - "-" "curl/7.35.0" '
    '"819c2e8b-ddad-4579-8508-794ab7de5a55" "productpage:9080" "XXX.XXX.XXX.XXX:9080" '
    "outbound|9080||productpage.bookinfo.svc.cluster.local - XXX.XXX.XXX.XXX:9080 XXX.XXX.XXX.XXX:33834 -"
)
# The seed's shape in the other TEXT eras (same request, fields added/removed per format).
V13 = SEED + " default"
V18 = SEED.replace('UC "-" "-" 0', 'UC "-" 0') + " default"
V19 = (
    SEED.replace('UC "-" "-" 0', 'UC upstream_reset_before_response_started{connection_termination} - "-" 0')
    + " -"
)


def test_seed_line() -> None:
    e = parse_line(SEED)
    assert e is not None
    assert (e.layout, e.response_code, e.response_flags) == ("istio-1.2", 503, ("UC",))
    assert e.request_id == "819c2e8b-ddad-4579-8508-794ab7de5a55"
    assert e.authority == "productpage:9080"
    assert e.upstream_cluster == "outbound|9080||productpage.bookinfo.svc.cluster.local"
    assert (e.method, e.path, e.protocol, e.start_time) == (
        "GET",
        "/productpage",
        "HTTP/1.1",
        "2019-10-07T21:54:37.175Z",
    )
    assert (e.bytes_received, e.bytes_sent, e.duration_ms, e.upstream_service_time_ms) == (0, 95, 1, None)
    assert e.upstream_local_address is None and e.downstream_remote_address == "XXX.XXX.XXX.XXX:33834"


@pytest.mark.parametrize(
    ("line", "layout", "route", "details"),
    [
        pytest.param(SEED, "istio-1.2", None, None, id="istio-1.2"),
        pytest.param(V13, "istio-1.3", "default", None, id="istio-1.3-1.7"),
        pytest.param(V18, "istio-1.8", "default", None, id="istio-1.8"),
        pytest.param(
            V19,
            "istio-1.9+",
            None,
            "upstream_reset_before_response_started{connection_termination}",
            id="1.9+",
        ),
    ],
)
def test_every_text_layout(line: str, layout: str, route: str | None, details: str | None) -> None:
    e = parse_line(line)
    assert e is not None and e.layout == layout
    assert (e.response_code, e.response_flags, e.route_name, e.response_code_details) == (
        503,
        ("UC",),
        route,
        details,
    )
    assert e.request_id == "819c2e8b-ddad-4579-8508-794ab7de5a55"
    assert e.upstream_cluster == "outbound|9080||productpage.bookinfo.svc.cluster.local"


ENVOY_DEFAULT = (
    '[2026-01-01T00:00:00.000Z] "GET /x HTTP/1.1" 503 UF 0 91 2 - "-" "curl/8" "rid-e" "a:80" "127.0.0.1:9"'
)
KUBECTL_TIMESTAMPS = "2026-01-01T00:00:00.123456789Z " + V19
NEW_FLAG = V19.replace(" UC ", " ZZ,UC ")


@pytest.mark.parametrize(
    ("line", "layout", "flags", "request_id"),
    [
        pytest.param(ENVOY_DEFAULT, "envoy-default", ("UF",), "rid-e", id="envoy-default-format"),
        pytest.param(
            KUBECTL_TIMESTAMPS, "istio-1.9+", ("UC",), "819c2e8b-ddad-4579-8508-794ab7de5a55", id="ts-prefix"
        ),
        pytest.param(
            NEW_FLAG,
            "istio-1.9+",
            ("UC",),
            "819c2e8b-ddad-4579-8508-794ab7de5a55",
            id="unknown-flag-kept-line",
        ),
    ],
)
def test_other_shapes(line: str, layout: str, flags: tuple[str, ...], request_id: str) -> None:
    e = parse_line(line)
    assert e is not None
    assert (e.layout, e.response_flags, e.request_id) == (layout, flags, request_id)


def test_fixture_file() -> None:
    entries = parse_log(FIXTURE.read_text())
    assert [(e.layout, e.response_code, e.response_flags) for e in entries] == [
        ("istio-1.2", 503, ("UC",)),
        ("istio-1.9+", 503, ("UC",)),
        ("json", 0, ("UF", "URX")),
    ]
    current = entries[1]
    assert current.start_time is None and current.request_id == "3a7cbcc1-af72-47fb-bbac-a7672951f50f"
    assert current.upstream_cluster == "outbound|80||health-api.production.svc.cluster.local"
    assert current.response_code_details == "upstream_reset_before_response_started{connection_termination}"
    assert entries[2].upstream_cluster == "outbound|7600||keycloak-headless.our_ns.svc.cluster.local"
    assert entries[2].duration_ms == 10003


def test_fixture_fragment_via_parse_line() -> None:
    fragment = '503 UF,URX "-" "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"'
    e = parse_line(fragment)
    assert e is not None and e.layout == "partial"
    assert e.response_flags == ("UF", "URX")
    assert (
        e.upstream_transport_failure_reason
        == "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"
    )
    assert parse_log(fragment) == []


REFUSED = ("rid-refused", 503, ("URX", "UF"), "delayed connect error: Connection refused", "refused")
PLAIN_TLS = (
    "rid-plain",
    503,
    ("URX", "UF"),
    "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER",
    "plain",
)
OK = ("rid-ok", 200, (), None, "ok")
NO_ROUTE = ("rid-nope", 404, ("NR",), None, None)


@pytest.mark.parametrize("fmt", ["access.log", "access.json"])
def test_envoy_140_real_lines(fmt: str) -> None:
    entries = parse_log((ENVOY140 / fmt).read_text())
    assert len(entries) == 4
    for entry, (rid, code, flags, reason, cluster) in zip(
        entries, [REFUSED, PLAIN_TLS, OK, NO_ROUTE], strict=True
    ):
        assert entry.layout == ("json" if fmt.endswith("json") else "istio-1.9+")
        assert (entry.request_id, entry.response_code, entry.response_flags) == (rid, code, flags)
        assert entry.upstream_transport_failure_reason == reason
        assert entry.upstream_cluster == (
            f"outbound|9080||{cluster}.lab.svc.cluster.local" if cluster else None
        )
    assert entries[2].upstream_service_time_ms == 1 and entries[3].response_code_details == "route_not_found"


@pytest.mark.parametrize(
    ("raw", "readable"),
    [
        pytest.param(
            "TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end",
            "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
            id="tls-new",
        ),
        pytest.param("TLS error: 1:SSL routines:X", "TLS error: 1:SSL routines:X", id="tls-old-unchanged"),
        pytest.param("delayed_connect_error:_111", "delayed connect error: 111", id="connect-error"),
        pytest.param("-", None, id="dash"),
        pytest.param(None, None, id="none"),
    ],
)
def test_readable_reason(raw: str | None, readable: str | None) -> None:
    assert readable_reason(raw) == readable


@pytest.mark.parametrize(
    ("details", "parts", "reason"),
    [
        pytest.param("via_upstream", None, None, id="healthy-no-braces"),
        pytest.param(None, None, None, id="none"),
        pytest.param(
            "upstream_reset_before_response_started{connection_termination}",
            ("upstream_reset_before_response_started", "connection_termination", ""),
            None,
            id="reset-only",
        ),
        pytest.param(
            "upstream_reset_before_response_started{remote_connection_failure|TLS_error:|268435703:"
            "SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end}",
            (
                "upstream_reset_before_response_started",
                "remote_connection_failure",
                "TLS_error:|268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end",
            ),
            "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER",
            id="new-pipe-tls",
        ),
        pytest.param(
            "upstream_reset_before_response_started{connection_failure,TLS_error:_268435703:SSL_routines:"
            "OPENSSL_internal:WRONG_VERSION_NUMBER}",
            (
                "upstream_reset_before_response_started",
                "connection_failure",
                "TLS_error:_268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER",
            ),
            "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER",
            id="old-comma-tls",
        ),
    ],
)
def test_details_braces(details: str | None, parts: tuple[str, str, str] | None, reason: str | None) -> None:
    # One splitter serves the access-log parser (TLS text) and the diagnosis signals (reset reason too).
    assert split_details(details) == parts
    assert reason_from_details(details) == reason


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("", id="blank"),
        pytest.param("# comment", id="comment"),
        pytest.param("hello world", id="garbage"),
        pytest.param('{"not": "a log"}', id="json-not-log"),
        pytest.param('{"response_code": ', id="truncated-json"),
        pytest.param('[2019] "GET / HTTP/1.1" abc UC', id="non-numeric-code"),
        pytest.param('"GET / HTTP/1.1" 503 NOTAFLAG x', id="bad-flags"),
    ],
)
def test_garbage_is_none(line: str) -> None:
    assert parse_line(line) is None


def test_quote_inside_user_agent() -> None:
    # Envoy does not escape quotes; a quote closes a field only before a space or the end.
    tokens = tokenize('a "curl/7 "beta"" "x"y" b')
    assert tokens == [("a", False), ('curl/7 "beta"', True), ('x"y', True), ("b", False)]


def test_find_by_request_id() -> None:
    entries = parse_log("\n".join([SEED, V19.replace("819c2e8b", "aaaaaaaa"), "junk"]))
    assert [e.layout for e in find_by_request_id(entries, "819c2e8b-ddad-4579-8508-794ab7de5a55")] == [
        "istio-1.2"
    ]
    assert find_by_request_id(entries, "missing") == [] and find_by_request_id(entries, "") == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_text_never_raises(text: str) -> None:
    parse_log(text)
    parse_line(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(['"-"', "-", "503", "UF,URX", '"GET / HTTP/1.1"', "[t]", "{", "x|y", '"a b']))
)
def test_fuzz_token_soup_never_raises(parts: list[str]) -> None:
    parse_line(" ".join(parts))
