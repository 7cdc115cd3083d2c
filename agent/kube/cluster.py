"""The Cluster protocol: everything the agent needs from Kubernetes, in our own types.

No kubernetes import here, so pure code and the pipeline can depend on this module freely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agent.istio.control_plane import ControlPlane, MeshOverrides
from agent.istio.resources import Pod, Service, ServicePort

# One Pod and one Service model for the kube layer, discovery and the policy engine
# (agent.istio.resources).
PodInfo = Pod
ServiceInfo = Service


@dataclass(frozen=True)
class ExecResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


class Cluster(Protocol):
    """Read-mostly access to one cluster. Implementations raise agent.errors.ClusterError subclasses."""

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[PodInfo]:
        """Pods in a namespace (None: all namespaces), optionally filtered by a label selector."""
        ...

    def get_pod(self, namespace: str, name: str) -> PodInfo: ...

    def workload_pods(self, namespace: str, workload: str) -> list[PodInfo]:
        """Pods of a Deployment/StatefulSet/DaemonSet/ReplicaSet (by owner), or by `app=<workload>`."""
        ...

    def list_services(self, namespace: str | None = None) -> list[ServiceInfo]: ...

    def list_policy_objects(self) -> list[dict[str, Any]]:
        """Raw manifests the policy engine reads: DestinationRules, PeerAuthentications (every served
        version), legacy Policy/MeshPolicy when served, the `istio` mesh ConfigMap, Services, Pods."""
        ...

    def exec(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float
    ) -> ExecResult:
        """Run argv in the container; stdout, stderr and exit code separately; deadline enforced."""
        ...

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        """The container's log since `since_seconds` ago, at most `limit_bytes` from that point."""
        ...

    def ping(self) -> None:
        """Raise ClusterUnreachable if the API server does not answer."""
        ...


@runtime_checkable
class ScopedCluster(Protocol):
    """A cluster whose lists can be limited to namespaces (LiveCluster). Fakes that list everything
    need not implement it; callers check with isinstance instead of probing attributes."""

    def set_scope(self, namespaces: Iterable[str] | None) -> None: ...

    def set_error_counter(self, count: Callable[[str], None]) -> None: ...


class LogStream(Protocol):
    """A container log being followed (agent.kube.log_follow.LogFollow)."""

    def wait_for(self, needles: Sequence[str], deadline: float) -> bool:
        """Until every needle is in the log (True), or the stream ended or the time.monotonic()
        deadline passed (False)."""
        ...

    def close(self) -> str:
        """End the stream; the text read (raises the ClusterError that ended it before any text)."""
        ...


@runtime_checkable
class LogFollowCluster(Protocol):
    """A cluster that can follow a container log as it is written (LiveCluster). Without it the
    access logs are read once, after Envoy's flush interval."""

    def follow_logs(
        self, namespace: str, pod: str, container: str, since_seconds: int, limit_bytes: int
    ) -> LogStream:
        """Start following now; lines from `since_seconds` ago on, at most `limit_bytes`."""
        ...


@runtime_checkable
class ControlPlaneCluster(Protocol):
    """A cluster that discovers its control plane (LiveCluster): the agent config's `mesh:` block
    overrides it, and each discovery is reported (to the store: metric and status page)."""

    mesh_overrides: MeshOverrides
    last_control_plane: ControlPlane | None
    on_control_plane: Callable[[ControlPlane], None]

    def control_plane(
        self, source_labels: dict[str, str] | None = None, source_annotations: dict[str, str] | None = None
    ) -> tuple[ControlPlane, dict[str, Any] | None]: ...


__all__ = [
    "Cluster",
    "ControlPlaneCluster",
    "ExecResult",
    "LogFollowCluster",
    "LogStream",
    "PodInfo",
    "ScopedCluster",
    "ServiceInfo",
    "ServicePort",
]
