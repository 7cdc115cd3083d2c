"""The Cluster protocol: everything the agent needs from Kubernetes, in our own types.

No kubernetes import here, so pure code and the pipeline can depend on this module freely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.istio.sidecar_health import SidecarStatus

SIDECAR_CONTAINER = "istio-proxy"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


@dataclass(frozen=True)
class PodInfo:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    containers: tuple[str, ...] = ()
    service_account: str = "default"
    ip: str | None = None
    phase: str = "Running"
    ready: bool = True
    owner_kind: str | None = None  # e.g. "ReplicaSet"
    owner_name: str | None = None
    sidecar: SidecarStatus | None = None  # istio-proxy's container status (classic or native sidecar)

    @property
    def has_sidecar(self) -> bool:
        return (
            SIDECAR_CONTAINER in self.containers and self.labels.get("security.istio.io/tlsMode") == "istio"
        )

    @property
    def app_container(self) -> str | None:
        default = self.annotations.get(DEFAULT_CONTAINER_ANNOTATION)
        if default and default in self.containers:
            return default
        return next((c for c in self.containers if c != SIDECAR_CONTAINER), None)


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: int | str | None = None
    name: str | None = None
    protocol: str = "TCP"


@dataclass(frozen=True)
class ServiceInfo:
    namespace: str
    name: str
    ports: tuple[ServicePort, ...] = ()
    selector: Mapping[str, str] = field(default_factory=dict)

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


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
