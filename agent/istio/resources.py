"""Typed views of the Kubernetes/Istio objects the policy engine reads (built by agent.istio.parse).

Frozen value types only; no parsing, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.istio.mesh import DEFAULT_CONTAINER_ANNOTATION, SIDECAR_CONTAINER, is_mesh_sidecar
from agent.istio.sidecar_health import SidecarStatus


@dataclass(frozen=True)
class MeshConfig:
    root_namespace: str = "istio-system"
    enable_auto_mtls: bool | None = None  # None: not set, the engine picks the era's default
    default_dr_export_to: tuple[str, ...] = ("*",)
    trust_domain: str = "cluster.local"
    # The cluster's DNS domain (not a meshConfig field: the sidecar's `--domain` argument and Istio's
    # `global.proxy.clusterDomain`); Services are `name.ns.svc.<cluster_domain>`.
    cluster_domain: str = "cluster.local"


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: int | str | None = None  # None: the port itself, as Kubernetes defaults it
    name: str = ""
    protocol: str = "TCP"


@dataclass(frozen=True)
class Service:
    """A Kubernetes Service: the one model the policy engine, the kube layer and discovery share."""

    namespace: str
    name: str
    ports: tuple[ServicePort, ...] = ()
    selector: Mapping[str, str] = field(default_factory=dict)
    headless: bool = False
    external_name: str | None = None  # type ExternalName: the endpoint is a DNS name, never a sidecar

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


@dataclass(frozen=True)
class Pod:
    """A pod, or a Deployment's template standing in for one: the one model of the kube layer, the
    policy engine and discovery. Whether it runs a sidecar follows from its containers and labels
    (agent.istio.mesh); only the engine's stand-ins for pods nobody listed assume it."""

    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    containers: tuple[str, ...] = ()  # running containers, native sidecars included
    service_account: str = "default"
    container_ports: Mapping[str, int] = field(default_factory=dict)  # port name -> number
    ip: str | None = None
    phase: str = "Running"
    ready: bool = True
    owner_kind: str | None = None  # e.g. "ReplicaSet"
    owner_name: str | None = None
    from_template: bool = False  # a Deployment's pod template, not a real pod
    assume_sidecar: bool | None = None  # a stand-in (no pods listed, ExternalName): assumed, not seen
    sidecar: SidecarStatus | None = None  # istio-proxy's container status (classic or native sidecar)
    # Effective securityContext.runAsUser per container (its own, else the pod's); absent: unset.
    # UID 1337 is the proxy's: a probe from such a container bypasses the sidecar (agent.check.via).
    run_as_users: Mapping[str, int] = field(default_factory=dict)

    @property
    def has_proxy_container(self) -> bool:
        if self.assume_sidecar is not None:
            return self.assume_sidecar
        return SIDECAR_CONTAINER in self.containers

    @property
    def has_sidecar(self) -> bool:
        if self.assume_sidecar is not None:
            return self.assume_sidecar
        return is_mesh_sidecar(self.containers, self.labels)

    @property
    def app_container(self) -> str | None:
        """The container a probe execs in: kubectl's default-container annotation, else the first
        container that is not the sidecar."""
        default = self.annotations.get(DEFAULT_CONTAINER_ANNOTATION)
        if default and default in self.containers:
            return default
        return next((c for c in self.containers if c != SIDECAR_CONTAINER), None)


@dataclass(frozen=True)
class DestinationRule:
    namespace: str
    name: str
    host: str  # as written
    export_to: tuple[str, ...]
    selector: Mapping[str, str] | None
    traffic_policy: Mapping[str, Any] | None
    subsets: tuple[Mapping[str, Any], ...]
    created: str
    api_version: str
    raw: Mapping[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PeerAuthentication:
    namespace: str
    name: str
    selector: Mapping[str, str] | None  # None or {} = no selector
    mode: str  # UNSET | DISABLE | PERMISSIVE | STRICT
    port_level: Mapping[int, str]
    created: str
    legacy: bool = False
    legacy_targets: tuple[tuple[str, tuple[int | str, ...]], ...] = ()  # (service, ports)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else f"{self.name}"


@dataclass
class Resources:
    mesh: MeshConfig = field(default_factory=MeshConfig)
    services: list[Service] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    destination_rules: list[DestinationRule] = field(default_factory=list)
    peer_authentications: list[PeerAuthentication] = field(default_factory=list)
    legacy_policies: list[PeerAuthentication] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Invalid(ValueError):
    """An object Istio's validation would reject; the message says which field and why."""
