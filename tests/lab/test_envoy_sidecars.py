"""Real Envoy 1.40 sidecars on loopback: status codes and response flags per scenario, and hot reload."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

import pytest

from meshlab.pod_processes import LabError
from meshlab.podenv import ADMIN_PORT
from tests.support.e2e_helpers import processes_mentioning
from tools.golden_capture.capture_tools import curl_argv, run_curl, wait_log_lines
from tools.golden_capture.golden_lab import GoldenLab
from tools.golden_capture.golden_scenarios import GoldenScenario

pytestmark = [
    pytest.mark.envoy,
    pytest.mark.skipif(shutil.which("envoy") is None, reason="envoy not on PATH"),
    pytest.mark.timeout(60),
]
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
# Per-process subnets so parallel runs (and the capture tool's 127.0.100-118) never collide.
SUBNET_BASE = 200 + (os.getpid() % 10) * 5


def probe(lab: GoldenLab) -> tuple[int, str | None, str]:
    """(HTTP status, client-log response flags or None, stdout)."""
    rid = str(uuid.uuid4())
    run = run_curl(curl_argv(URL, rid, max_time_s=5), lab.curl_home)
    status = int(run.stdout.rsplit('"http_code":', 1)[1].split(",", 1)[0])
    if not lab.sc.client_sidecar:
        return status, None, run.stdout
    lines = wait_log_lines(lab.client, rid)
    return status, (lines[0].split()[5] if lines else None), run.stdout


@pytest.mark.parametrize(
    ("index", "scenario", "status", "flags"),
    [
        pytest.param(
            0,
            GoldenScenario("p2s", "", "", client_tls="DISABLE", auto=False, server_mode="STRICT", warmups=0),
            503,
            "UC",
            id="plaintext-to-strict-503-UC",
        ),
        pytest.param(
            1,
            GoldenScenario("m2s", "", "", server_mode="STRICT", warmups=0),
            200,
            "-",
            id="auto-mtls-to-strict-200",
        ),
        pytest.param(
            2,
            GoldenScenario("auto-nosidecar", "", "", server_sidecar=False, warmups=0),
            200,
            "-",
            id="auto-mtls-to-no-sidecar-endpoint-200",
        ),
    ],
)
def test_scenario_outcome(
    tmp_path: Path, index: int, scenario: GoldenScenario, status: int, flags: str
) -> None:
    with GoldenLab(scenario, tmp_path, SUBNET_BASE + index) as lab:
        assert probe(lab)[:2] == (status, flags)


def test_policy_change_reloads_without_restart(tmp_path: Path) -> None:
    broken = GoldenScenario(
        "reload",
        "",
        "",
        client_tls="DISABLE",
        auto=False,
        server_mode="STRICT",
        destination_rule="bookinfo/destrule-productpage",
        warmups=0,
    )
    with GoldenLab(broken, tmp_path, SUBNET_BASE + 3) as lab:
        assert probe(lab)[:2] == (503, "UC")
        envoy = lab.client.envoy
        assert envoy is not None and envoy.alive
        pid = envoy.proc.pid
        # "kubectl apply" of the DR with ISTIO_MUTUAL: re-render, Envoy picks the files up itself.
        lab.sc = dataclasses.replace(broken, client_tls="ISTIO_MUTUAL")
        lab.client.apply_sidecar(lab.client_spec())
        deadline = time.monotonic() + 10
        result = probe(lab)
        while result[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            result = probe(lab)
        assert result[:2] == (200, "-")
        assert lab.client.envoy is envoy and envoy.alive and envoy.proc.pid == pid
        dump = lab.client.admin("config_dump?resource=dynamic_active_clusters")
        assert '"version_info": "2"' in dump and "istio-peer-exchange" in dump
    assert not envoy.alive and lab.client.envoy is None, "envoy must be stopped on exit"


def test_sidecar_that_cannot_start_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    """An Envoy dying at start (here: its admin port is taken) fails the lab with its log named, and
    GoldenLab's exit path stops the other pod's sidecar and the app (one Supervisor reaps both)."""
    scenario = GoldenScenario("taken", "", "", server_mode="STRICT", warmups=0)
    lab = GoldenLab(scenario, tmp_path, SUBNET_BASE + 4)
    with socket.socket() as squatter:
        squatter.bind((lab.client.ip, ADMIN_PORT))
        squatter.listen()
        with pytest.raises(LabError, match=r"envoy of .*/.* exited; see .*envoy\.out"):
            lab.__enter__()
    assert lab.client.envoy is None and lab.server.envoy is None
    assert processes_mentioning(str(tmp_path)) == []  # both bootstraps live under tmp_path
