"""Config reload: good reloads swap the schedule keeping unchanged paths' results; bad ones keep the
running config and say why (status, /readyz detail, errors_total{stage="config"})."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from serve_fakes import StandInCheck, wait_until

from agent.config import AgentConfig
from agent.errors import ConfigError
from agent.serve.agent import Agent
from agent.serve.reload import ConfigWatcher


def config_text(*names: str, interval: str = "30s") -> str:
    lines = ["paths:"]
    for n in names:
        lines.append(
            f"  - {{name: {n}, from: {{namespace: load-test, workload: gen}}, "
            f"to: {{url: 'http://{n}.bookinfo:9080/'}}, interval: {interval}}}"
        )
    return "\n".join(lines) + "\n"


BAD_PORT = (
    "paths:\n  - {name: x, from: {namespace: a, workload: b}, to: {service: s, namespace: n, port: 0}}\n"
)


def test_good_then_bad_then_fixed_reload(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(config_text("a"))
    applied: list[AgentConfig] = []
    errors: list[str] = []
    watcher = ConfigWatcher(file, applied.append, errors.append)
    watcher.load_initial()
    assert watcher.check_once() is False  # unchanged content: nothing to do
    file.write_text(config_text("a", "b"))
    assert watcher.check_once() is True
    assert [p.name for p in watcher.config.paths] == ["a", "b"]
    file.write_text(BAD_PORT)
    assert watcher.check_once() is False and watcher.check_once() is False
    assert [p.name for p in watcher.config.paths] == ["a", "b"]  # running config kept
    assert len(errors) == 1 and f"{file}: paths[0].to.port: must be 1-65535" in errors[0]  # reported once
    assert watcher.status().last_error == errors[0]
    file.write_text(config_text("c"))
    assert watcher.check_once() is True and watcher.status().last_error is None
    assert len(applied) == 2


def test_configmap_symlink_swap_is_detected(tmp_path: Path) -> None:
    # The kubelet's layout: agent.yaml -> ..data/agent.yaml, ..data -> ..<timestamp>/; an update
    # writes a new timestamped dir and atomically renames a new ..data symlink over the old one.
    def write_version(tag: str, text: str) -> None:
        d = tmp_path / f"..{tag}"
        d.mkdir()
        (d / "agent.yaml").write_text(text)
        tmp_link = tmp_path / "..data_tmp"
        tmp_link.symlink_to(d.name)
        os.replace(tmp_link, tmp_path / "..data")

    write_version("v1", config_text("a"))
    (tmp_path / "agent.yaml").symlink_to("..data/agent.yaml")
    applied: list[AgentConfig] = []
    watcher = ConfigWatcher(tmp_path / "agent.yaml", applied.append, interval=0.05)
    watcher.load_initial()
    watcher.start()
    try:
        write_version("v2", config_text("a", "z"))
        assert wait_until(lambda: len(applied) == 1, timeout=5)
        assert [p.name for p in applied[0].paths] == ["a", "z"]
    finally:
        watcher.stop()


def test_initial_bad_config_is_fatal(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(BAD_PORT)
    with pytest.raises(ConfigError, match=r"paths\[0\]\.to\.port"):
        ConfigWatcher(file, lambda c: None).load_initial()


def test_agent_reload_keeps_results_of_unchanged_paths(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(config_text("keep", "drop"))
    agent = Agent(file, StandInCheck(), lambda p: None, reload_interval=60)
    agent.start(serve=False, schedule=False)
    try:
        agent.run_path("keep")
        agent.run_path("drop")
        kept = agent.store.latest("keep")
        file.write_text(config_text("keep", "new"))
        assert agent.watcher.check_once()
        assert sorted(agent.scheduler.paths()) == ["keep", "new"]
        assert agent.store.latest("keep") is kept and agent.store.latest("drop") is None
        assert agent.ready() == (True, "ok")

        file.write_text(BAD_PORT)
        assert not agent.watcher.check_once()
        assert sorted(agent.scheduler.paths()) == ["keep", "new"]
        ok, detail = agent.ready()
        assert ok and "config reload rejected" in detail and "paths[0].to.port" in detail
        assert agent.store.errors()["config"] == 1
    finally:
        agent.stop()


def test_reload_of_start_only_settings_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(config_text("a"))
    agent = Agent(file, StandInCheck(), lambda p: None)
    agent.start(serve=False, schedule=False)
    try:
        file.write_text(
            config_text("a", "b")
            + "api: {allow_adhoc: true, token_env: T}\nlimits: {max_concurrent_probes: 3}\n"
        )
        with caplog.at_level("WARNING"):
            assert agent.watcher.check_once()
        assert sorted(agent.scheduler.paths()) == ["a", "b"]  # paths applied live
        assert "api changed; it takes effect after a restart" in caplog.text
        assert "limits.max_concurrent_probes changed" in caplog.text
    finally:
        agent.stop()


def test_deleted_file_keeps_running_config_and_recovers(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(config_text("a"))
    errors: list[str] = []
    watcher = ConfigWatcher(file, lambda c: None, errors.append)
    watcher.load_initial()
    file.unlink()
    assert not watcher.check_once() and not watcher.check_once()
    assert errors == [f"{file}: file not found"]  # reported once, not every poll
    assert [p.name for p in watcher.config.paths] == ["a"]
    file.write_text(config_text("a", "b"))
    assert watcher.check_once() and watcher.status().last_error is None


def test_touch_without_change_does_not_reload(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(config_text("a"))
    applied: list[AgentConfig] = []
    watcher = ConfigWatcher(file, applied.append)
    watcher.load_initial()
    os.utime(file, (1, 1))
    assert not watcher.check_once() and applied == []


def test_directory_instead_of_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        ConfigWatcher(tmp_path, lambda c: None).load_initial()
