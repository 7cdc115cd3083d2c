"""The one way tests run the real lab (real Envoy, the API-server emulator, the pinned kubectl).

`run_lab` starts a scenario's lab and always stops it (use it with `yield from` in a fixture);
`LabHandle` runs kubectl, kubectl-exec'd curl and `kubectl logs` against it. Every wait is bounded.
Shared by tests/lab, tests/e2e and tests/resilience, so a fix to lab start-up lands everywhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshlab.kubectl import kubectl_path
from meshlab.pod_processes import envoy_name
from meshlab.runtime import Lab
from meshlab.scenario import Scenario, load_scenario


@dataclass
class LabHandle:
    lab: Lab
    kubectl: str
    env: dict[str, str]  # KUBECONFIG + a per-lab kubectl cache dir

    def k(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.kubectl, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def pod(self, namespace: str, workload: str) -> str:
        return next(p.name for p in self.lab.pods if p.namespace == namespace and p.workload.name == workload)

    def curl(self, source: str, url: str, request_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """`kubectl exec` (default container) curl from "ns/workload", as a user would type it."""
        namespace, workload = source.split("/")[:2]
        return self.k("exec", "-n", namespace, self.pod(namespace, workload), "--",
                      "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                      "-H", f"x-request-id: {request_id}", *extra, url)  # fmt: skip

    def debug_curl(
        self, source: str, url: str, request_id: str, *extra: str, container: str = "dbg"
    ) -> subprocess.CompletedProcess[str]:
        """curl from an ephemeral container (`kubectl debug`, added once), for images without curl."""
        namespace, workload = source.split("/")[:2]
        pod = self.pod(namespace, workload)
        self.wait_debug_container(namespace, pod, container)
        return self.k("exec", "-n", namespace, pod, "-c", container, "--",
                      "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                      "-H", f"x-request-id: {request_id}", *extra, url)  # fmt: skip

    def wait_debug_container(self, namespace: str, pod: str, container: str, timeout: float = 10.0) -> None:
        """Add `container` with `kubectl debug` unless the pod has it, and wait until it runs (bounded)."""
        path = "{.status.ephemeralContainerStatuses[?(@.name=='" + container + "')].state}"
        state = self.k("get", "pod", "-n", namespace, pod, "-o", f"jsonpath={path}").stdout
        if not state:
            added = self.k("debug", "-n", namespace, pod, "--image=curlimages/curl:8.11.1",
                           f"--container={container}", "--", "sleep", "3600")  # fmt: skip
            assert added.returncode == 0, added.stderr
        deadline = time.monotonic() + timeout
        while "running" not in state:
            assert time.monotonic() < deadline, f"{container} of {namespace}/{pod} not running: {state!r}"
            time.sleep(0.1)
            state = self.k("get", "pod", "-n", namespace, pod, "-o", f"jsonpath={path}").stdout

    def proxy_log_lines(self, source: str, request_id: str, timeout: float = 5.0) -> list[str]:
        """The source pod's istio-proxy log lines (via `kubectl logs`) carrying request_id."""
        namespace, workload = source.split("/")[:2]
        deadline = time.monotonic() + timeout
        while True:  # bounded: Envoy flushes its access log every 100 ms
            out = self.k("logs", "-n", namespace, self.pod(namespace, workload), "-c", "istio-proxy").stdout
            lines = [line for line in out.splitlines() if request_id in line]
            if lines or time.monotonic() >= deadline:
                return lines
            time.sleep(0.1)

    def crash_sidecar(self, namespace: str, workload: str, times: int = 2, timeout: float = 15.0) -> None:
        """SIGKILL the pod's Envoy `times` times, each after the lab's kubelet restarted it. The first
        exit is restarted at once (as a kubelet does); from the second the sidecar stays down for the
        10 s CrashLoopBackOff, which is when a probe meets it dead."""
        pod = next(p for p in self.lab.pods if p.namespace == namespace and p.workload.name == workload)
        name = envoy_name(f"{namespace}/{pod.name}")
        for i in range(times):
            deadline = time.monotonic() + timeout
            child = self.lab.supervisor.get(name)
            while child is None or not child.alive:  # bounded: the kubelet restarts within ~1 s
                if time.monotonic() > deadline:
                    raise AssertionError(f"the sidecar of {namespace}/{pod.name} was not restarted")
                time.sleep(0.1)
                child = self.lab.supervisor.get(name)
            os.kill(child.proc.pid, signal.SIGKILL)
            child.proc.wait(timeout)
            if i + 1 < times:
                while self.lab.supervisor.get(name) is child:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"the sidecar of {namespace}/{pod.name} was not restarted")
                    time.sleep(0.1)


def run_lab(
    scenario: str | Path | Scenario, tmp: Path, extra_objects: Sequence[dict[str, Any]] = ()
) -> Iterator[LabHandle]:
    """Start the lab of `scenario` (a built-in name, a YAML file or a Scenario) under `tmp`; stop it when resumed."""
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    lab = Lab(loaded, tmp / "state", extra_objects=extra_objects)
    lab.start()
    try:
        env = dict(os.environ, KUBECONFIG=str(lab.kubeconfig), KUBECACHEDIR=str(tmp / "kcache"))
        yield LabHandle(lab, str(kubectl_path()), env)
    finally:
        lab.stop()
