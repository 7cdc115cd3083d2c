"""Typed views of the Kubernetes/Istio objects the policy engine reads (built by agent.istio.parse).

Frozen value types only; no parsing, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MeshConfig:
    root_namespace: str = "istio-system"
    enable_auto_mtls: bool | None = None  # None: not set, the engine picks the era's default
    default_dr_export_to: tuple[str, ...] = ("*",)
    trust_domain: str = "cluster.local"


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
    namespace: str
    name: str
    labels: Mapping[str, str]
    has_sidecar: bool
    has_proxy_container: bool
    service_account: str = "default"
    container_ports: Mapping[str, int] = field(default_factory=dict)  # port name -> number
    from_template: bool = False  # a Deployment's pod template, not a real pod


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
