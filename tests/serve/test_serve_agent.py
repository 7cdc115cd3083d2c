"""Agent wiring: discovery follows services, shard filter, start-up errors leave nothing running."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from serve_fakes import StandInCheck, wait_until

from agent.config import parse_config_text
from agent.errors import ConfigError, InputError
from agent.kube.cluster import ServiceInfo, ServicePort
from agent.serve.agent import Agent, parse_listen, select_paths
from agent.serve.sharding import shard_of

DISCOVERY = """\
paths:
  - {name: explicit, from: {namespace: load-test, workload: gen}, to: {url: 'http://productpage.bookinfo:9080/'}}
discovery:
  - {from: {namespace: load-test, workload: gen}, namespaces: [bookinfo]}
"""


def services(*names: str) -> list[ServiceInfo]:
    return [ServiceInfo("bookinfo", n, (ServicePort(9080),)) for n in names]


def test_discovery_follows_services_and_keeps_results(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(DISCOVERY)
    current = services("productpage")
    agent = Agent(
        file, StandInCheck(), lambda p: None, list_services=lambda: current, discovery_interval=3600
    )
    agent.start(serve=False, schedule=False)
    try:
        assert sorted(agent.scheduler.paths()) == ["explicit", "gen-to-productpage.bookinfo-9080"]
        agent.run_path("explicit")
        assert agent.refresh_discovery() is False  # nothing changed
        current = services("productpage", "reviews")
        assert agent.refresh_discovery() is True
        assert "gen-to-reviews.bookinfo-9080" in agent.scheduler.paths()
        current = services("reviews")
        agent.refresh_discovery()
        assert sorted(agent.scheduler.paths()) == ["explicit", "gen-to-reviews.bookinfo-9080"]
        assert agent.store.latest("explicit") is not None
    finally:
        agent.stop()


def test_discovery_failure_keeps_last_services(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(DISCOVERY)
    calls = {"n": 0}

    def flaky() -> list[ServiceInfo]:
        calls["n"] += 1
        if calls["n"] > 1:
            raise ConnectionError("api server gone")
        return services("productpage")

    agent = Agent(file, StandInCheck(), lambda p: None, list_services=flaky)
    agent.start(serve=False, schedule=False)
    try:
        assert agent.refresh_discovery() is False
        assert "gen-to-productpage.bookinfo-9080" in agent.scheduler.paths()
        assert agent.store.errors()["discovery"] == 1
    finally:
        agent.stop()


@pytest.mark.parametrize(
    ("index", "count"), [(0, 1), (0, 2), (1, 2), (2, 3)], ids=["single", "0of2", "1of2", "2of3"]
)
def test_select_paths_keeps_only_this_shard(index: int, count: int) -> None:
    text = "paths:\n" + "".join(
        f"  - {{name: p{i}, from: {{namespace: a, workload: b}}, to: {{url: 'http://x{i}/'}}}}\n"
        for i in range(20)
    )
    paths, problems = select_paths(parse_config_text(text), None, (index, count))
    assert problems == []
    assert [p.name for p in paths] == [f"p{i}" for i in range(20) if shard_of(f"p{i}", count) == index]


def test_max_paths_caps_discovered_paths() -> None:
    config = parse_config_text(DISCOVERY + "limits: {max_paths: 2}\n")
    paths, problems = select_paths(config, services("a", "b", "c"), (0, 1))
    assert len(paths) == 2 and paths[0].name == "explicit"
    assert problems and "limits.max_paths 2" in problems[0]


@pytest.mark.parametrize(
    ("extra", "listen", "error", "message"),
    [
        ("api: {token_env: MESHPROBER_TEST_NO_SUCH_TOKEN}\n", None, ConfigError, "api.token_env"),
        ("", "nonsense", InputError, "--listen: 'nonsense' must be HOST:PORT"),
        ("", "127.0.0.1:99999", InputError, "--listen"),
    ],
    ids=["token-env-unset", "listen-garbage", "listen-port-range"],
)
def test_startup_errors_leave_nothing_running(
    tmp_path: Path, extra: str, listen: str | None, error: type[Exception], message: str
) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(DISCOVERY + extra)
    before = set(threading.enumerate())  # other tests' background threads may end meanwhile
    agent = Agent(file, StandInCheck(), lambda p: None)
    with pytest.raises(error, match=message):
        agent.start(listen=listen)
    assert not set(threading.enumerate()) - before


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:9090", ("127.0.0.1", 9090)), (":8080", ("0.0.0.0", 8080)), ("[::1]:0", ("::1", 0))],
    ids=["ipv4", "all-interfaces", "ipv6"],
)
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value, "--listen") == expected


def test_token_from_file_protects_api(tmp_path: Path) -> None:
    import httpx

    token = tmp_path / "token"
    token.write_text("from-a-file\n")
    file = tmp_path / "agent.yaml"
    file.write_text(DISCOVERY + f"api: {{listen: '127.0.0.1:0', token_file: '{token}'}}\n")
    agent = Agent(file, StandInCheck(), lambda p: None)
    agent.start(schedule=False)
    try:
        assert httpx.get(f"{agent.url}/api/v1/paths", timeout=5).status_code == 401
        ok = httpx.get(
            f"{agent.url}/api/v1/paths", headers={"Authorization": "Bearer from-a-file"}, timeout=5
        )
        assert ok.status_code == 200 and [p["path"] for p in ok.json()] == ["explicit"]
    finally:
        agent.stop()


def test_run_until_signalled_stops_everything(tmp_path: Path) -> None:
    import os
    import signal

    file = tmp_path / "agent.yaml"
    file.write_text(DISCOVERY + "api: {listen: '127.0.0.1:0'}\n")
    # The threads alive before: other tests' background threads may end meanwhile, so compare sets.
    before = set(threading.enumerate())
    handler_before = signal.getsignal(signal.SIGTERM)
    agent = Agent(file, StandInCheck(), lambda p: None)
    agent.start()
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    agent.run_until_signalled()  # returns on SIGTERM, handler restored afterwards
    timer.join()
    assert agent.url is None and wait_until(lambda: not set(threading.enumerate()) - before)
    assert signal.getsignal(signal.SIGTERM) == handler_before


def test_on_demand_probe_uses_check_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """POST /api/v1/probe (a user waiting: ad hoc or a configured path) goes through check_now; the
    schedule's own runs through check."""
    file = tmp_path / "agent.yaml"
    file.write_text(
        DISCOVERY.split("discovery:")[0]
        + "api: {listen: '127.0.0.1:0', allow_adhoc: true, token_env: MESHPROBER_TEST_TOKEN}\n"
    )
    monkeypatch.setenv("MESHPROBER_TEST_TOKEN", "t0ken")
    scheduled, now = StandInCheck(), StandInCheck()
    agent = Agent(file, scheduled, lambda p: None, check_now=now)
    agent.start(schedule=False)
    try:
        assert agent.url is not None
        body = {"from": "load-test/gen", "to": "http://productpage.bookinfo.svc:9080/"}
        with httpx.Client(base_url=agent.url, timeout=10, headers={"Authorization": "Bearer t0ken"}) as c:
            assert c.post("/api/v1/probe", json=body).status_code == 200
            assert c.post("/api/v1/probe", json={"path": "explicit"}).status_code == 200
        assert (now.count("adhoc"), scheduled.count("adhoc")) == (1, 0)
        assert (now.count("explicit"), scheduled.count("explicit")) == (1, 0)
        agent.scheduler._scheduled_run("explicit")  # what the APScheduler job calls
        assert (now.count("explicit"), scheduled.count("explicit")) == (1, 1)
    finally:
        agent.stop()
