"""The gather's small decisions: the log window, Envoy's flush interval, logging unknown vs off."""

from __future__ import annotations

import pytest

from agent.check.mesh_facts import (
    FLUSH_S,
    FLUSH_SLACK_S,
    STREAM_SLACK_S,
    flush_interval,
    log_deadline,
    log_since,
    logging_decision,
    server_may_have_logged,
)
from agent.evidence import AccessLogEntry
from agent.istio.control_plane import ControlPlane, Gap
from agent.kube.cluster import PodInfo

POD = PodInfo("bookinfo", "productpage-1", labels={"app": "productpage"})
CM = {
    "kind": "ConfigMap",
    "metadata": {"namespace": "istio-system", "name": "istio"},
    "data": {"mesh": "accessLogFile: /dev/stdout\n"},
}


@pytest.mark.parametrize(
    ("mesh", "seconds"),
    [
        pytest.param(None, FLUSH_S, id="default-1s-pilot-agent"),
        pytest.param({"defaultConfig": {"fileFlushInterval": "5s"}}, 5.0, id="proxyconfig-5s"),
        pytest.param({"defaultConfig": {"fileFlushInterval": "bogus"}}, FLUSH_S, id="bad-value-default"),
    ],
)
def test_flush_interval(mesh: dict[str, object] | None, seconds: float) -> None:
    assert flush_interval(mesh) == seconds


def test_log_window() -> None:
    assert log_since(100.0, 103.2) == 9  # ceil(3.2) + 5 s margin
    assert log_since(100.0, 99.0) == 4 and log_since(100.0, 10.0) == 1  # never below 1


def test_logging_known_unknown_and_off() -> None:
    on = logging_decision([CM], None, POD, "SERVER")
    assert on is not None and on.on
    assert logging_decision([], None, POD, "SERVER") is None  # no mesh config: unknown
    gap = Gap(
        "Telemetry resources", "forbidden", "list telemetries.telemetry.istio.io cluster-wide", "logging"
    )
    plane = ControlPlane("istio-system", None, "istio", {"accessLogFile": "/dev/stdout"}, gaps=(gap,))
    assert logging_decision([CM], plane, POD, "SERVER") is None  # Telemetry unreadable: unknown
    off = logging_decision([], ControlPlane("istio-system", None, "istio", {}), POD, "CLIENT")
    assert off is not None and not off.on


def _client(details: str | None) -> AccessLogEntry:
    return AccessLogEntry(layout="istio-1.23+", response_code=503, response_code_details=details)


@pytest.mark.parametrize(
    ("client", "may"),
    [
        pytest.param(_client("via_upstream"), True, id="server-answered-healthy-path-waits-full"),
        pytest.param(
            _client("upstream_reset_before_response_started{connection_termination}"),
            False,
            id="seed-mtls-mismatch-handshake-refused",
        ),
        pytest.param(
            _client("upstream_reset_before_response_started{connection_failure,delayed_connect_error:_111}"),
            False,
            id="connect-refused",
        ),
        pytest.param(_client("no_healthy_upstream"), False, id="no-endpoint"),
        pytest.param(_client("route_not_found"), False, id="no-route"),
        pytest.param(
            _client("upstream_reset_after_response_started{remote_reset}"), True, id="reset-mid-response"
        ),
        pytest.param(
            _client("rbac_access_denied_matched_policy[none]"), True, id="client-side-local-denial-unknown"
        ),
        pytest.param(_client(None), True, id="old-layout-without-details"),
        pytest.param(None, True, id="no-client-line"),
    ],
)
def test_server_may_have_logged(client: AccessLogEntry | None, may: bool) -> None:
    assert server_may_have_logged(client) is may


def test_log_deadline() -> None:
    assert log_deadline(100.0) == pytest.approx(100.0 + 1.0 + FLUSH_SLACK_S)  # 1 s flush + 0.2 s slack
    assert log_deadline(10.0, 0.1, STREAM_SLACK_S) == pytest.approx(10.12)
    assert log_deadline(100.0, 3600.0) == pytest.approx(130.2)  # bounded
