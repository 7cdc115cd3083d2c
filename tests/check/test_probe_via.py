"""from.via on the real pipeline (ReplayCluster: answers recorded from the seed lab): exec, ephemeral,
auto's fallback when the app container has no curl, a missing permission, and a UID 1337 source.
One named case per situation, with a healthy row."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from agent.check.context import CheckContext
from agent.check.run import run_check
from agent.check.via import ViaState
from agent.config.probe_via import PROBE_CONTAINER_NAME, ProbeContainerConfig
from agent.errors import CommandNotFound, Forbidden
from agent.kube.cluster import ExecResult, PodInfo
from agent.results import CheckResult
from tests.support.replay_cluster import ReplayCluster, seed_path

NOT_FOUND = (
    'OCI runtime exec failed: exec failed: unable to start container process: exec: "curl": '
    "executable file not found in $PATH: unknown"
)


class ViaReplay(ReplayCluster):
    """The seed recording, where app containers may lack curl and the probe container can be added."""

    def __init__(
        self, *, curl: bool = True, allowed: bool = True, forbid_patch: bool = False, uid: int | None = None
    ):
        super().__init__()
        self.curl, self.allowed, self.forbid_patch, self.uid = curl, allowed, forbid_patch, uid
        self.patches: list[str] = []
        self.probe_pods: set[str] = set()
        self.exec_containers: list[str] = []

    def workload_pods(self, namespace: str, workload: str) -> list[PodInfo]:
        pods = super().workload_pods(namespace, workload)
        if self.uid is None:
            return pods
        return [dataclasses.replace(p, run_as_users={p.app_container or "": self.uid}) for p in pods]

    def exec(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float
    ) -> ExecResult:
        if argv[0] == "curl":
            self.exec_containers.append(container)
            if container != PROBE_CONTAINER_NAME and not self.curl:
                raise CommandNotFound(
                    f"curl is not installed in container {container} of {namespace}/{pod}: {NOT_FOUND}"
                )
        return super().exec(namespace, pod, container, argv, timeout)

    # EphemeralApi
    def pod_json(self, namespace: str, name: str) -> dict[str, Any]:
        running = name in self.probe_pods
        statuses = [{"name": PROBE_CONTAINER_NAME, "state": {"running": {}}}] if running else []
        spec = {"ephemeralContainers": [{"name": PROBE_CONTAINER_NAME}]} if running else {}
        return {"metadata": {"name": name}, "spec": spec, "status": {"ephemeralContainerStatuses": statuses}}

    def patch_ephemeral_containers(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(name)
        if self.forbid_patch:
            raise Forbidden(f'pods "{name}" is forbidden: cannot patch resource "pods/ephemeralcontainers"')
        self.probe_pods.add(name)
        return {}

    def can_i(self, namespace: str, verb: str, resource: str, subresource: str = "") -> bool:
        return self.allowed


@dataclass(frozen=True)
class Case:
    name: str
    namespace: str
    via: str
    cluster: dict[str, Any]
    verdict: str
    container: str | None
    stage: str | None = None
    says: tuple[str, ...] = ()
    patches: int = 0


CASES = [
    Case("healthy-exec-has-curl", "traffic-generator", "auto", {}, "ok", "traffic-generator"),
    Case("seed-break-exec", "load-test", "exec", {}, "mtls_plaintext_to_strict", "traffic-generator"),
    Case("auto-no-curl-falls-back-to-probe-container", "load-test", "auto", {"curl": False},
         "mtls_plaintext_to_strict", PROBE_CONTAINER_NAME, says=("ephemeral container meshprober-probe",), patches=1),
    Case("ephemeral-always", "load-test", "ephemeral", {}, "mtls_plaintext_to_strict", PROBE_CONTAINER_NAME,
         says=("ephemeral container meshprober-probe",), patches=1),
    Case("auto-no-curl-no-permission", "load-test", "auto", {"curl": False, "allowed": False}, "probe_failed",
         "traffic-generator", stage="no_curl",
         says=("container traffic-generator of pod load-test/", "has no curl", "deploy/components/ephemeral-probes")),
    Case("exec-no-curl", "load-test", "exec", {"curl": False}, "probe_failed", "traffic-generator", stage="exec",
         says=("curl is not installed",)),
    Case("ephemeral-forbidden", "load-test", "ephemeral", {"forbid_patch": True}, "probe_failed", None,
         stage="ephemeral_forbidden", says=("patch on pods/ephemeralcontainers",), patches=1),
    Case("uid-1337-source", "load-test", "auto", {"uid": 1337}, "probe_failed", "traffic-generator",
         stage="sidecar_bypass", says=("runs as UID 1337", "bypass the sidecar")),
]  # fmt: skip


def _run(case: Case, cluster: ViaReplay, runs: int = 1) -> tuple[CheckResult, list[str]]:
    path = seed_path(case.namespace, via=case.via)
    created: list[str] = []
    ctx = CheckContext.for_cluster(
        cluster, via=ViaState(settings=ProbeContainerConfig(), on_created=created.append)
    )
    result = run_check(path, ctx)
    for _ in range(runs - 1):
        result = run_check(path, ctx)
    return result, created


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_probe_via(case: Case) -> None:
    cluster = ViaReplay(**case.cluster)
    result, created = _run(case, cluster, runs=2)
    assert result.diagnosis.verdict.value == case.verdict, result.diagnosis.summary
    assert result.error_stage == case.stage
    if case.container is not None:
        assert result.source.container == case.container
    text = " ".join([result.diagnosis.summary, *result.diagnosis.evidence])
    for part in case.says:
        assert part in text
    # Two runs: the probe container is added once and reused; a 403 is remembered (one PATCH).
    assert len(cluster.patches) == case.patches
    assert created == ([case.namespace] if case.patches and not case.cluster.get("forbid_patch") else [])


def test_auto_remembers_a_container_without_curl() -> None:
    case = next(c for c in CASES if c.name == "auto-no-curl-falls-back-to-probe-container")
    cluster = ViaReplay(curl=False)
    _run(case, cluster, runs=2)
    # first run: the app container (no curl), then the probe container for both probes; second run:
    # straight to the probe container
    assert cluster.exec_containers[0] == "traffic-generator"
    assert set(cluster.exec_containers[1:]) == {PROBE_CONTAINER_NAME}
