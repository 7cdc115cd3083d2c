"""The lab app's behaviour knobs and the pilot-agent emulation (no Envoy needed)."""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator

import pytest

from meshlab import pilot_agent
from meshlab.app_server import AppBehaviour, make_server, serve_in_thread

ADDR = f"127.0.{240 + os.getpid() % 10}.77"


@pytest.fixture
def app(request: pytest.FixtureRequest) -> Iterator[int]:
    behaviour, port = request.param
    server = make_server(ADDR, port, behaviour)
    thread = serve_in_thread(server)
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


def get(port: int, path: str) -> tuple[int | None, str]:
    conn = http.client.HTTPConnection(ADDR, port, timeout=3)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return None, ""
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("app", "path", "status"),
    [
        pytest.param((AppBehaviour(), 18080), "/productpage", 200, id="healthy"),
        pytest.param((AppBehaviour(), 18080), "/reviews/1", 200, id="reviews"),
        pytest.param((AppBehaviour(), 18080), "/nope", 404, id="unknown-route"),
        pytest.param((AppBehaviour(status=503), 18080), "/productpage", 503, id="status-knob"),
        pytest.param((AppBehaviour(status=503), 18080), "/health", 200, id="health-stays-200"),
        pytest.param((AppBehaviour(close=True), 18080), "/productpage", None, id="close-knob"),
        pytest.param((AppBehaviour(reset=True), 18080), "/productpage", None, id="reset-knob"),
    ],
    indirect=["app"],
)
def test_app_behaviour(app: int, path: str, status: int | None) -> None:
    assert get(app, path)[0] == status


@pytest.mark.parametrize(
    "addr",
    [
        pytest.param("0.0.0.0", id="any"),
        pytest.param("127.example.com", id="name-that-looks-loopback"),
    ],
)
def test_app_refuses_non_loopback(addr: str) -> None:
    with pytest.raises(ValueError, match="--addr"):
        make_server(addr, 18081, AppBehaviour())


@pytest.mark.parametrize("app", [pytest.param((AppBehaviour(), 15000), id="admin-port")], indirect=True)
def test_pilot_agent_prints_only_the_body(app: int, capsys: pytest.CaptureFixture[str]) -> None:
    rc = pilot_agent.main(["--pod-ip", ADDR, "request", "GET", "health"])
    assert rc == 0
    assert capsys.readouterr().out == '{"path": "/health", "status": 200}\n'


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--pod-ip", ADDR, "--debug-port", "8080", "request", "GET", "x"], "not allowed", id="bad-port"
        ),
        pytest.param(["--pod-ip", "10.0.0.1", "request", "GET", "x"], "loopback", id="non-loopback"),
        pytest.param(
            ["--pod-ip", "127.example.com", "request", "GET", "x"], "loopback", id="name-that-looks-loopback"
        ),
        pytest.param(
            ["--pod-ip", ADDR, "request", "post", "logging?level=debug"],
            "failed to reach",
            id="post-lowercase-nothing-listening",
        ),
        pytest.param(
            ["--pod-ip", ADDR, "--debug-port", "15004", "request", "GET", "x"],
            "failed to reach",
            id="nothing-listening",
        ),
    ],
)
def test_pilot_agent_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert pilot_agent.main(argv) == 1
    assert message in capsys.readouterr().err
