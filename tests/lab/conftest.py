"""Fixtures that run the real lab (real Envoy, the API-server emulator, the pinned kubectl)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.lab.kubectl import kubectl_path
from agent.lab.runtime import Lab
from agent.lab.scenario import load_scenario


@dataclass
class RunningLab:
    lab: Lab
    kubectl: str
    env: dict[str, str]

    def k(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.kubectl, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def pod(self, namespace: str, workload: str) -> str:
        return next(p.name for p in self.lab.pods if p.namespace == namespace and p.workload.name == workload)


def start_lab(scenario: str, tmp: Path) -> Iterator[RunningLab]:
    lab = Lab(load_scenario(scenario), tmp / "state")
    lab.start()
    try:
        env = dict(os.environ, KUBECONFIG=str(lab.kubeconfig), KUBECACHEDIR=str(tmp / "kcache"))
        yield RunningLab(lab, str(kubectl_path()), env)
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    yield from start_lab("seed", tmp_path_factory.mktemp("seed"))
