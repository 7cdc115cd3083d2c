"""A Cluster that replays what the real seed lab answered (recorded by `record_seed.py`), for long runs.

Every exec/logs/list answer comes from tests/resilience/testdata/seed_replay.json, captured from the
lab through LiveCluster. The curl answer's x-request-id is rewritten to the one in the new argv and
the access logs carry the latest ids, so the pipeline correlates its probes as it does live.
No network, no processes: a day of probes runs in seconds.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.config import PathConfig, parse_config
from agent.errors import NotFound
from agent.kube.cluster import ExecResult, PodInfo, ServiceInfo, ServicePort
from agent.probe.argv import TRANSFER_END_MARKER

REPLAY = Path(__file__).resolve().parents[1] / "resilience" / "testdata" / "seed_replay.json"


def pod_to_json(pod: PodInfo) -> dict[str, Any]:
    # `sidecar` (istio-proxy status) is derived from the pod status, which the recording does not keep.
    return {
        **{k: v for k, v in pod.__dict__.items() if k != "sidecar"},
        "labels": dict(pod.labels),
        "annotations": dict(pod.annotations),
        "containers": list(pod.containers),
    }


def pod_from_json(d: dict[str, Any]) -> PodInfo:
    return PodInfo(**{**d, "containers": tuple(d["containers"])})


def service_to_json(s: ServiceInfo) -> dict[str, Any]:
    return {
        "namespace": s.namespace,
        "name": s.name,
        "selector": dict(s.selector),
        "ports": [p.__dict__ for p in s.ports],
    }


def service_from_json(d: dict[str, Any]) -> ServiceInfo:
    return ServiceInfo(d["namespace"], d["name"], tuple(ServicePort(**p) for p in d["ports"]), d["selector"])


def request_id_of(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if arg.lower().startswith("x-request-id:"):
            return arg.split(":", 1)[1].strip()
    return None


SEED_URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"  # the recorded probes' target


def seed_path(source_namespace: str = "load-test", via: str | None = None) -> PathConfig:
    """Path `p` from the recording's traffic-generator in `source_namespace` to productpage."""
    source: dict[str, Any] = {"namespace": source_namespace, "workload": "traffic-generator"}
    if via is not None:
        source["via"] = via
    return parse_config({"paths": [{"name": "p", "from": source, "to": {"url": SEED_URL}}]}).paths[0]


def _line_end(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


class ReplayCluster:
    def __init__(self, recording: dict[str, Any] | None = None) -> None:
        rec = recording if recording is not None else json.loads(REPLAY.read_text())
        self._rec = rec
        self._ids: dict[str, deque[str]] = {}  # source pod -> request ids of its last run's probes
        self.calls = 0

    # pods and services
    def workload_pods(self, namespace: str, workload: str) -> list[PodInfo]:
        self.calls += 1
        return [pod_from_json(p) for p in self._rec["workload_pods"][f"{namespace}/{workload}"]]

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[PodInfo]:
        self.calls += 1
        return [pod_from_json(p) for p in self._rec["list_pods"].get(f"{namespace}|{label_selector}", [])]

    def get_pod(self, namespace: str, name: str) -> PodInfo:
        recorded = [*self._rec["workload_pods"].values(), *self._rec["list_pods"].values()]
        for pod in (pod_from_json(p) for pods in recorded for p in pods):
            if (pod.namespace, pod.name) == (namespace, name):
                return pod
        raise NotFound(f"pod {namespace}/{name} not found")

    def list_services(self, namespace: str | None = None) -> list[ServiceInfo]:
        self.calls += 1
        return [service_from_json(s) for s in self._rec["list_services"].get(str(namespace), [])]

    def list_policy_objects(self) -> list[dict[str, Any]]:
        self.calls += 1
        return json.loads(json.dumps(self._rec["policy_objects"]))  # a fresh copy, as a new listing is

    # exec and logs
    def exec(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float
    ) -> ExecResult:
        self.calls += 1
        if argv[0] == "curl":
            if "--next" in argv:  # a pair run: each transfer answers as the recorded run did
                at = argv.index("--next")
                first, second = self._curl(namespace, pod, argv[:at]), self._curl(namespace, pod, argv[at:])
                end = TRANSFER_END_MARKER + "\n"
                return ExecResult(
                    first.stdout + second.stdout,
                    (
                        _line_end(first.stderr.decode()) + end + _line_end(second.stderr.decode()) + end
                    ).encode(),
                    second.exit_code,
                )
            return self._curl(namespace, pod, argv)
        ans = self._rec["pilot_agent"][f"{namespace}/{pod}"]
        return ExecResult(ans["stdout"].encode(), ans["stderr"].encode(), ans["exit_code"])

    def _curl(self, namespace: str, pod: str, argv: Sequence[str]) -> ExecResult:
        ans = self._rec["curl"][f"{namespace}/{pod}"]
        new_id = request_id_of(argv) or ""
        recorded = self._rec["log_request_ids"][f"{namespace}/{pod}"]
        self._ids.setdefault(f"{namespace}/{pod}", deque(maxlen=len(recorded))).append(new_id)
        old = ans["request_id"]
        return ExecResult(
            ans["stdout"].replace(old, new_id).encode(),
            ans["stderr"].replace(old, new_id).encode(),
            ans["exit_code"],
        )

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        self.calls += 1
        text = str(self._rec["logs"].get(f"{namespace}/{pod}", ""))
        # The recorded run's ids (first probe, second probe) become this run's, in the same order.
        for source, olds in self._rec["log_request_ids"].items():
            for old, new in zip(
                olds[-len(self._ids.get(source, ())) :], self._ids.get(source, ()), strict=False
            ):
                text = text.replace(old, new)
        return text

    def ping(self) -> None:
        return None
