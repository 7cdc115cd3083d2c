"""A config with thousands of paths loads and schedules; a bad reload of it keeps the running config.

The check is a stand-in (no cluster): this is about the config, the scheduler, the store and the API
at scale. Startup is bounded by the test's timeout, never by a timed assertion.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from resilience_helpers import http_get, many_paths, ok_result, wait_for, write_config

from agent.config import load_config
from agent.serve.agent import Agent
from agent.serve.scheduler import MAX_JITTER_S

PATHS = 3000
INTERVAL_S = 60


@pytest.fixture(scope="module")
def big_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "agent.yaml"
    return write_config(
        path, many_paths(PATHS, f"{INTERVAL_S}s"), limits={"max_paths": 10000, "min_interval": "1s"}
    )


@pytest.fixture(scope="module")
def big_agent(big_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Agent, Path]]:
    """One agent for the module: bad reloads leave it as it was; the good reload runs last."""
    config = tmp_path_factory.mktemp("running") / "agent.yaml"
    config.write_bytes(big_config.read_bytes())
    agent = Agent(config, check=ok_result, policy_check=lambda path: None, reload_interval=3600)
    agent.start(listen="127.0.0.1:0")
    try:
        yield agent, config
    finally:
        agent.stop()


@pytest.mark.timeout(180)
def test_thousands_of_paths_load_schedule_and_serve(big_config: Path, big_agent: tuple[Agent, Path]) -> None:
    assert len(load_config(big_config).paths) == PATHS
    agent, _ = big_agent
    assert agent.url is not None
    assert len(agent.scheduler.paths()) == PATHS
    runs = agent.scheduler.next_run_times()
    assert len(runs) == PATHS and all(runs.values())
    latest_first = max(t for t in runs.values() if t is not None)
    # First runs spread (over one interval for this many paths: scheduler.first_run_spread), not
    # piled up at one instant; some ran already, so their next run is one interval (+ jitter) away.
    assert latest_first <= datetime.now(UTC) + timedelta(seconds=INTERVAL_S + MAX_JITTER_S)
    assert len({t.replace(microsecond=0) for t in runs.values() if t is not None}) > 5
    metrics = http_get(agent.url + "/metrics", timeout=30)[1]
    assert f"meshprober_paths {float(PATHS)}" in metrics
    wait_for("first runs of most paths", lambda: len(_probed(agent)) >= PATHS * 0.9, timeout=90, every=0.5)
    status, page = http_get(agent.url + "/", timeout=30)
    assert status == 200 and f"p{PATHS - 1:05d}" in page


def _probed(agent: Agent) -> list[str]:
    return [n for n in agent.store.names() if agent.store.latest(n) is not None]


@pytest.mark.parametrize(
    "bad_text",
    [
        pytest.param("paths: [\n  {name: a, from: {namespace: x", id="truncated-write"),
        pytest.param("", id="empty-file-mid-write"),
        pytest.param(
            "paths:\n  - name: a\n    from: {namespace: x, workload: y}\n    to: {url: 'ftp://x'}\n",
            id="bad-url",
        ),
        pytest.param(None, id="duplicate-path-name"),
        pytest.param("paths: []\nlimits: {max_concurrent_probes: 0}\n", id="out-of-range-limit"),
        pytest.param("\xff\xfe not utf-8", id="not-utf8"),
        pytest.param("paths: []\nsurprise: true\n", id="unknown-field"),
    ],
)
@pytest.mark.timeout(120)
def test_bad_reload_of_a_big_config_keeps_every_path(
    big_config: Path, big_agent: tuple[Agent, Path], bad_text: str | None
) -> None:
    agent, config = big_agent
    before = agent.scheduler.next_run_times()
    errors_before = agent.store.errors().get("config", 0)
    if bad_text is None:  # the big config itself with one name used twice
        last = f"p{PATHS - 1:05d}"
        config.write_text((big_config.read_text()).replace(f"name: {last}", "name: p00000"))
    elif bad_text.startswith("\xff"):
        config.write_bytes(b"\xff\xfe not utf-8")
    else:
        config.write_text(bad_text)
    assert agent.watcher.check_once() is False
    assert set(agent.scheduler.paths()) == set(before)
    assert agent.scheduler.next_run_times().keys() == before.keys()
    assert agent.store.errors()["config"] == errors_before + 1
    status = agent.watcher.status()
    assert status.last_error and re.search(r"agent\.yaml", status.last_error)
    ok, detail = agent.ready()
    assert ok  # the stand-in cluster is fine; only the reload was rejected
    assert "running config kept" in detail


@pytest.mark.timeout(120)
def test_good_reload_of_a_big_config_keeps_unchanged_paths(
    big_config: Path, big_agent: tuple[Agent, Path]
) -> None:
    """The healthy row (runs last): one path changed, one removed; the rest keep their results."""
    agent, config = big_agent
    wait_for("first runs of most paths", lambda: len(_probed(agent)) >= PATHS * 0.9, timeout=90, every=0.5)
    probed = set(_probed(agent))
    doc = yaml.safe_load(big_config.read_text())
    doc["paths"][0]["to"]["path"] = "/changed"
    doc["paths"].pop()
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert agent.watcher.check_once() is True
    assert len(agent.scheduler.paths()) == PATHS - 1
    assert agent.scheduler.paths()["p00000"].to.path == "/changed"
    kept = probed - {"p00000", f"p{PATHS - 1:05d}"}
    assert all(agent.store.latest(n) is not None for n in kept)  # unchanged paths keep their results
    assert agent.watcher.status().last_error is None
