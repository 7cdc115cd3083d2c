"""`meshprober probe` as a user runs it: against the lab's kubeconfig, and via a running agent.

The agent side (--agent URL) is an in-process agent on the same lab: a bearer token is required when
configured, and ad-hoc from/to probes work only when its config allows them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from agent.kube.live import LiveCluster
from agent.serve.agent import Agent
from agent.wiring import build_agent
from tests.support.e2e_helpers import MESHPROBER, by_path, cli, free_port, wait_for
from tests.support.lab import LabHandle, run_lab

pytestmark = pytest.mark.lab

TARGET = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
FROM = "load-test/traffic-generator"
TOKEN = "probe-cli-token-abcdef"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    yield from run_lab("seed", tmp_path_factory.mktemp("probe-lab"))


def _agent(lab: LabHandle, tmp: Path, allow_adhoc: bool) -> Agent:
    (tmp / "token").write_text(TOKEN)
    cfg: dict[str, Any] = {
        "paths": [{"name": "first", "from": {"namespace": "load-test", "workload": "traffic-generator"},
                   "to": {"url": TARGET}}],
        "api": {"token_file": str(tmp / "token"), "allow_adhoc": allow_adhoc},
        "evidence": {"dir": str(tmp / "evidence")},
    }  # fmt: skip
    (tmp / "agent.yaml").write_text(yaml.safe_dump(cfg))
    cluster = LiveCluster.from_kubeconfig(str(lab.lab.kubeconfig))
    agent, _ = build_agent(tmp / "agent.yaml", cluster)
    agent.start(listen="127.0.0.1:0", schedule=False)
    return agent


@pytest.fixture(scope="module")
def agents(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    strict = _agent(lab, tmp_path_factory.mktemp("strict"), allow_adhoc=False)
    try:
        open_ = _agent(lab, tmp_path_factory.mktemp("adhoc"), allow_adhoc=True)
        try:
            assert strict.url and open_.url
            yield {"strict": strict.url, "adhoc": open_.url}
        finally:
            open_.stop()
    finally:
        strict.stop()


def test_probe_human_output(lab: LabHandle) -> None:
    proc = cli("probe", "--from", FROM, "--to", TARGET, env=lab.env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "mtls_plaintext_to_strict" in proc.stdout
    assert "bookinfo/destrule-productpage" in proc.stdout and "ISTIO_MUTUAL" in proc.stdout


def test_probe_json(lab: LabHandle) -> None:
    proc = cli("probe", "--from", FROM, "--to", TARGET, "--json", env=lab.env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "mtls_plaintext_to_strict" and out["confidence"] == "high"
    assert out["source"]["namespace"] == "load-test" and out["source"]["pod"]
    assert out["target"] == TARGET


def test_probe_healthy_path_exits_0(lab: LabHandle) -> None:
    proc = cli("probe", "--from", "traffic-generator/traffic-generator", "--to", TARGET, env=lab.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("agent", "token", "code", "expect"),
    [
        pytest.param("strict", None, 2, "401", id="token-required"),
        pytest.param("strict", "wrong", 2, "401", id="wrong-token"),
        pytest.param("strict", TOKEN, 2, "ad-hoc probes are disabled", id="adhoc-off-by-default"),
        pytest.param("adhoc", TOKEN, 1, "mtls_plaintext_to_strict", id="adhoc-allowed"),
    ],
)
def test_probe_via_agent(
    agents: dict[str, str], agent: str, token: str | None, code: int, expect: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MESHPROBER_TOKEN"}
    if token:
        env["MESHPROBER_TOKEN"] = token
    proc = cli("probe", "--from", FROM, "--to", TARGET, "--agent", agents[agent], env=env, timeout=90)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert expect in proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr


def test_probe_bad_input_is_exit_2(lab: LabHandle) -> None:
    proc = cli("probe", "--from", "no-slash", "--to", TARGET, env=lab.env, timeout=30)
    assert proc.returncode == 2 and "--from" in proc.stderr and "Traceback" not in proc.stderr


def test_run_serves_the_policy_conflict_at_start_and_stops_on_sigterm(lab: LabHandle, tmp_path: Path) -> None:
    port = free_port()
    cfg = {
        "paths": [{"name": "first", "from": {"namespace": "load-test", "workload": "traffic-generator"},
                   "to": {"url": TARGET}, "interval": "600s"}],
        "evidence": {"dir": str(tmp_path / "evidence")},
    }  # fmt: skip
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    argv = [*MESHPROBER, "run", "--config", str(tmp_path / "agent.yaml"), "--listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:

        def metrics() -> str | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                return None

        # The path's first probe is 6.5 s away (its stable schedule offset): the policy check is not.
        def primed() -> str | None:
            text = metrics()
            return text if text and "first" in by_path(text, "meshprober_tls_conflict") else None

        text = wait_for("the policy check in /metrics", primed, timeout=20, every=0.1)
        assert by_path(text, "meshprober_tls_conflict")["first"] == 1.0
        assert "first" not in by_path(text, "meshprober_probe_success")  # no probe has run yet
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out[-2000:]
