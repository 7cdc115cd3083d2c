"""The live check reads access logs only when Istio's config says the sidecar logs, and only the probe's
window, bounded in bytes; with logging off the diagnosis says so and the seed verdict still stands.

Runs the real pipeline on ReplayCluster (answers recorded from the seed lab), with the recorded mesh
ConfigMap and Telemetry resources changed per row (shapes: istio.io Telemetry API, meshConfig).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from agent.check.context import CheckContext
from agent.check.mesh_facts import LOG_LIMIT_BYTES
from agent.check.run import run_check
from agent.istio.control_plane import ControlPlane
from agent.kube.cluster import PodInfo
from agent.model import Confidence, Verdict
from tests.support.replay_cluster import REPLAY, ReplayCluster, seed_path


def telemetry(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "telemetry.istio.io/v1",
        "kind": "Telemetry",
        "metadata": {"namespace": ns, "name": "logs", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"accessLogging": [{"providers": [{"name": "envoy"}]}]},
    }


class LogReplay(ReplayCluster):
    def __init__(self, mesh: str, extra: list[dict[str, Any]]) -> None:
        rec = json.loads(REPLAY.read_text())
        for obj in rec["policy_objects"]:
            if obj["kind"] == "ConfigMap":
                obj["data"]["mesh"] = mesh
        rec["policy_objects"].extend(extra)
        super().__init__(rec)
        self.log_reads: list[tuple[str, int | None, int | None]] = []

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        self.log_reads.append((namespace, since_seconds, limit_bytes))
        return super().logs(namespace, pod, container, since_seconds, limit_bytes)


BASE = "rootNamespace: istio-system\nenableAutoMtls: true\n"


@pytest.mark.parametrize(
    ("mesh", "extra", "read", "off"),
    [
        pytest.param(
            BASE + "accessLogFile: /dev/stdout\n", [], {"load-test", "bookinfo"}, set(), id="meshconfig-on"
        ),
        pytest.param(BASE, [], set(), {"client", "server"}, id="default-profile-off"),
        pytest.param(
            BASE, [telemetry("bookinfo")], {"bookinfo"}, {"client"}, id="telemetry-server-namespace"
        ),
        pytest.param(
            BASE, [telemetry("istio-system")], {"load-test", "bookinfo"}, set(), id="telemetry-mesh-wide"
        ),
    ],
)
def test_logs_read_only_when_on(
    mesh: str, extra: list[dict[str, Any]], read: set[str], off: set[str]
) -> None:
    cluster = LogReplay(mesh, extra)
    path = seed_path()
    result = run_check(path, CheckContext.for_cluster(cluster))
    d = result.diagnosis
    assert (d.verdict, d.confidence) == (Verdict.MTLS_PLAINTEXT_TO_STRICT, Confidence.HIGH)
    assert {ns for ns, _, _ in cluster.log_reads} == read
    for _, since, limit in cluster.log_reads:
        assert limit == LOG_LIMIT_BYTES and since is not None and since < 60  # the probe's window only
    said = {
        side
        for side in ("client", "server")
        if any(f"({side} sidecar:" in e and "access logging is off" in e for e in d.evidence)
    }
    assert said == off
    if off:
        assert not any("never logged" in e for e in d.evidence)


class RevisionReplay(LogReplay):
    """The policy view read revision 1-29's mesh config (logging off); the source pod was injected by
    1-30, whose mesh config logs: the client side's logging follows the pod's own revision."""

    def __init__(self) -> None:
        super().__init__(BASE, [])
        self.last_control_plane = ControlPlane(
            "istio-system", "1-29", "istio-1-29", {"rootNamespace": "istio-system"}
        )
        self.asked: list[dict[str, str]] = []

    def workload_pods(self, namespace: str, workload: str) -> list[PodInfo]:
        return [
            replace(p, labels={**p.labels, "istio.io/rev": "1-30"})
            for p in super().workload_pods(namespace, workload)
        ]

    def control_plane(
        self, source_labels: dict[str, str] | None = None, source_annotations: dict[str, str] | None = None
    ) -> tuple[ControlPlane, dict[str, Any] | None]:
        self.asked.append(dict(source_labels or {}))
        mesh = {"rootNamespace": "istio-system", "accessLogFile": "/dev/stdout"}
        return ControlPlane("istio-system", "1-30", "istio-1-30", mesh), None


def test_source_pod_revision_decides_its_logging() -> None:
    cluster = RevisionReplay()
    path = seed_path()
    result = run_check(path, CheckContext.for_cluster(cluster))
    assert cluster.asked and cluster.asked[0]["istio.io/rev"] == "1-30"
    assert "load-test" in {ns for ns, _, _ in cluster.log_reads}  # the 1-30 mesh config logs
    assert result.diagnosis.verdict is Verdict.MTLS_PLAINTEXT_TO_STRICT
