"""Re-record testdata/seed_replay.json from a fresh seed lab: `python tests/resilience/record_seed.py`.

Runs the real pipeline once per seed path through a LiveCluster wrapped to keep every answer.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent.check.context import CheckContext
from agent.check.run import run_check
from agent.config import parse_config
from agent.kube.cluster import ExecResult, PodInfo, ServiceInfo
from agent.kube.live import LiveCluster
from meshlab.runtime import Lab
from meshlab.scenario import load_scenario
from tests.support.replay_cluster import REPLAY, pod_to_json, request_id_of, service_to_json

URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
SOURCES = [("traffic-generator", "traffic-generator"), ("load-test", "traffic-generator")]


class Recorder:
    def __init__(self, live: LiveCluster) -> None:
        self.live = live
        self.rec: dict[str, Any] = {
            k: {}
            for k in (
                "workload_pods",
                "list_pods",
                "list_services",
                "curl",
                "pilot_agent",
                "logs",
                "log_request_ids",
            )
        }

    def workload_pods(self, namespace: str, workload: str) -> list[PodInfo]:
        pods = self.live.workload_pods(namespace, workload)
        self.rec["workload_pods"][f"{namespace}/{workload}"] = [pod_to_json(p) for p in pods]
        return pods

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[PodInfo]:
        pods = self.live.list_pods(namespace, label_selector)
        self.rec["list_pods"][f"{namespace}|{label_selector}"] = [pod_to_json(p) for p in pods]
        return pods

    def get_pod(self, namespace: str, name: str) -> PodInfo:
        return self.live.get_pod(namespace, name)

    def list_services(self, namespace: str | None = None) -> list[ServiceInfo]:
        services = self.live.list_services(namespace)
        self.rec["list_services"][str(namespace)] = [service_to_json(s) for s in services]
        return services

    def list_policy_objects(self) -> list[dict[str, Any]]:
        self.rec["policy_objects"] = self.live.list_policy_objects()
        return json.loads(json.dumps(self.rec["policy_objects"]))

    def exec(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float
    ) -> ExecResult:
        res = self.live.exec(namespace, pod, container, argv, timeout)
        answer = {"stdout": res.stdout.decode(), "stderr": res.stderr.decode(), "exit_code": res.exit_code}
        if argv[0] == "curl":
            self.rec["curl"][f"{namespace}/{pod}"] = {**answer, "request_id": request_id_of(argv)}
            self.rec["log_request_ids"].setdefault(f"{namespace}/{pod}", []).append(request_id_of(argv))
        else:
            self.rec["pilot_agent"][f"{namespace}/{pod}"] = answer
        return res

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        text = self.live.logs(namespace, pod, container, since_seconds, limit_bytes)
        self.rec["logs"][f"{namespace}/{pod}"] = text
        return text

    def ping(self) -> None:
        self.live.ping()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Lab(load_scenario("seed"), Path(tmp) / "state") as lab:
        live = LiveCluster.from_kubeconfig(str(lab.kubeconfig))
        recorder = Recorder(live)
        ctx = CheckContext.for_cluster(recorder)  # type: ignore[arg-type]
        paths = [
            {"name": ns, "from": {"namespace": ns, "workload": wl}, "to": {"url": URL}} for ns, wl in SOURCES
        ]
        for path in parse_config({"paths": paths}).paths:
            print(path.name, run_check(path, ctx).diagnosis.verdict.value)
        live.close()
    REPLAY.write_text(json.dumps(recorder.rec, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REPLAY}")


if __name__ == "__main__":
    main()
