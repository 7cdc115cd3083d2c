"""The three bugs issue 18 reports, fixed where they live (agent/envoy parser, agent/diagnose ladder).

Each row is the real line from the public thread that showed the bug, one named case per scenario.
"""

from __future__ import annotations

import pytest

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.envoy.access_log import parse_line
from agent.envoy.log_tokens import restore_lost_quote
from agent.evidence import CurlResult
from agent.model import Verdict

# https://github.com/istio/istio/issues/53561 (Istio 1.23): the paste lost `[START_TIME] "` at the start.
CUT_404 = (
    'PUT /v2/admin/user/6191ef725cc069dc7e71949z?host=travels.com HTTP/1.1" 404 NR route_not_found - "-" '
    '0 0 0 - "5.195.224.128" "hub-api-my-account-api-proxy/1.0,Mozilla/5.0 (Macintosh; Intel Mac OS X '
    '10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36" '
    '"806d8e1e4e91122988ffd998716fa518" "cross-products-myaccount-api.cross-products.svc.cluster.local" '
    '"-" - - 172.20.15.70:80 5.195.224.128:0 - -'
)
# https://github.com/istio/istio/pull/52886 (HBONE transport errors): the HTTP line of a refused tunnel.
INVALID_ARG = (
    '[2024-08-27T20:00:10.142Z] "GET / HTTP/1.1" 503 UF upstream_reset_before_response_started'
    '{remote_connection_failure|delayed_connect_error:_Invalid_argument} - "delayed_connect_error:_Invalid_argument"'
    ' 0 165 0 - "10.244.0.1" "curl/8.9.1" "58c0e2c6-fa7e-4a68-a4f1-3bae11113f7c" "172.18.0.101" '
    '"envoy://connect_originate/10.244.0.17:80" outbound|80||echo.default.svc.cluster.local - 10.244.0.7:8080 '
    "10.244.0.1:10858 - -"
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(CUT_404, '"' + CUT_404, id="lost-quote-and-timestamp"),
        pytest.param("7.175Z] " + CUT_404, '"' + CUT_404, id="lost-part-of-the-timestamp"),
        pytest.param(
            '- - -" 0 NR filter_chain_not_found - "-"', '"- - -" 0 NR filter_chain_not_found - "-"', id="tcp"
        ),
        pytest.param(INVALID_ARG, INVALID_ARG, id="healthy-intact-line-unchanged"),
        pytest.param('503 UF,URX "-" "TLS error"', '503 UF,URX "-" "TLS error"', id="fragment-unchanged"),
    ],
)
def test_restore_lost_quote(line: str, expected: str) -> None:
    assert restore_lost_quote(line) == expected


def test_cut_off_404_nr_is_no_route_not_app_error() -> None:
    entry = parse_line(CUT_404)
    assert entry is not None and entry.response_flags == ("NR",)
    assert (entry.method, entry.response_code_details) == ("PUT", "route_not_found")
    d = classify(DiagnoseInput(curl=CurlResult(exit_code=0, http_status=404), client_entry=entry))
    assert d.verdict is Verdict.NO_ROUTE


def test_recorded_reason_is_not_called_missing() -> None:
    entry = parse_line(INVALID_ARG)
    assert entry is not None
    d = classify(DiagnoseInput(curl=CurlResult(exit_code=0, http_status=503), client_entry=entry))
    assert "no failure reason was recorded" not in d.summary
    assert "Invalid argument" in d.summary
    assert any("Invalid argument" in e for e in d.evidence)


@pytest.mark.parametrize(
    ("curl", "status", "from_log"),
    [
        pytest.param(CurlResult(exit_code=0), 503, True, id="curl-printed-no-status"),
        pytest.param(CurlResult(exit_code=0, http_status=503), 503, False, id="healthy-curl-has-status"),
    ],
)
def test_status_from_the_matched_line(curl: CurlResult, status: int, from_log: bool) -> None:
    entry = parse_line(INVALID_ARG)
    d = classify(DiagnoseInput(curl=curl, client_entry=entry))
    assert d.http_status == status
    assert "None" not in d.summary
    assert any("logged response code" in e for e in d.evidence) is from_log
