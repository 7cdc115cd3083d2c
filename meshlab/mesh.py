"""The lab's miniature istiod: Kubernetes/Istio objects + our policy engine -> each sidecar's spec.

Pure: no I/O. For every pod with a sidecar it decides, through agent.istio's PolicyEngine (the same
engine `tls-check` uses), what each outbound cluster originates and what each inbound port accepts,
and returns the translator's input (meshlab.sidecar.SidecarSpec). It also computes the curl
routing of every app container (what istio-init's iptables rules would do).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.istio.engine import PolicyEngine
from meshlab.podenv import OUTBOUND_PORT, Route, dns_names
from meshlab.sidecar import Endpoint, InboundPort, OutboundService, SidecarFiles, SidecarSpec, TrafficPolicy
from meshlab.topology import LabPod


@dataclass(frozen=True)
class SvcPort:
    port: int
    target_port: int
    name: str


@dataclass(frozen=True)
class Svc:
    namespace: str
    name: str
    selector: Mapping[str, str]
    ports: tuple[SvcPort, ...]

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"

    def selects(self, labels: Mapping[str, str]) -> bool:
        return bool(self.selector) and all(labels.get(k) == v for k, v in self.selector.items())


def app_port(target_port: int) -> int:
    """Where a sidecar'd app really listens (the sidecar owns the target port, as after iptables)."""
    return target_port + 20000 if target_port < 45000 else target_port - 20000


def services_from(objects: Iterable[Mapping[str, Any]]) -> list[Svc]:
    out: list[Svc] = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        ports = []
        for p in spec.get("ports") or []:
            target = p.get("targetPort", p.get("port"))
            if isinstance(target, int) and isinstance(p.get("port"), int):
                ports.append(SvcPort(p["port"], target, str(p.get("name") or "")))
        out.append(
            Svc(
                meta.get("namespace", "default"), meta["name"], dict(spec.get("selector") or {}), tuple(ports)
            )
        )
    return out


def pod_labels(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, str]]:
    """Current labels of every pod object (a user may relabel or delete pods in the emulator)."""
    return {
        (o["metadata"].get("namespace", "default"), o["metadata"]["name"]): dict(
            o["metadata"].get("labels") or {}
        )
        for o in objects
        if o.get("kind") == "Pod"
    }


def _traffic_policy(tp: Mapping[str, Any] | None) -> TrafficPolicy:
    tp = tp or {}
    lb = (tp.get("loadBalancer") or {}).get("simple")
    pool = tp.get("connectionPool") or {}
    tcp, http = pool.get("tcp") or {}, pool.get("http") or {}
    outlier = tp.get("outlierDetection") or {}
    ejection = str(outlier.get("baseEjectionTime") or "").rstrip("s")
    return TrafficPolicy(
        load_balancer=lb,
        max_connections=tcp.get("maxConnections"),
        http1_max_pending_requests=http.get("http1MaxPendingRequests"),
        http2_max_requests=http.get("http2MaxRequests"),
        max_retries=http.get("maxRetries"),
        consecutive_5xx_errors=outlier.get("consecutive5xxErrors"),
        base_ejection_time_s=float(ejection) if ejection.replace(".", "", 1).isdigit() else None,
    )


class MeshModel:
    """One snapshot of the lab's objects, with the policy engine built over it."""

    def __init__(self, objects: list[dict[str, Any]], pods: list[LabPod]) -> None:
        self.objects = objects
        self.engine = PolicyEngine(objects)
        self.services = services_from(objects)
        self.labels = pod_labels(objects)
        # A pod deleted from the API server no longer serves traffic or gets config.
        self.pods = [p for p in pods if (p.namespace, p.name) in self.labels]

    def _labels(self, pod: LabPod) -> dict[str, str]:
        return self.labels.get((pod.namespace, pod.name), {})

    def endpoints(self, svc: Svc) -> list[LabPod]:
        return [p for p in self.pods if p.namespace == svc.namespace and svc.selects(self._labels(p))]

    def outbound(self, client: LabPod) -> list[OutboundService]:
        out: list[OutboundService] = []
        for svc in self.services:
            backends = self.endpoints(svc)
            for port in svc.ports:
                decision = self.engine.client_tls(client.namespace, self._labels(client), svc.fqdn, port.port)
                eps = tuple(
                    Endpoint(
                        ip=b.ip,
                        port=port.target_port,
                        tls_mode_label=decision.endpoint_tls(f"{b.namespace}/{b.name}"),
                    )
                    for b in backends
                )
                out.append(
                    OutboundService(
                        name=svc.name,
                        namespace=svc.namespace,
                        port=port.port,
                        endpoints=eps,
                        tls_mode=decision.mode,
                        auto=decision.auto,
                        destination_rule=decision.destination_rule,
                        dr_api_version=decision.destination_rule_api_version or "networking.istio.io/v1",
                        sni=decision.sni,
                        subject_alt_names=tuple(decision.subject_alt_names or ()),
                        traffic_policy=_traffic_policy(decision.traffic_policy),
                    )
                )
        return out

    def inbound(self, pod: LabPod) -> list[InboundPort]:
        ports: dict[int, InboundPort] = {}
        for svc in self.services:
            if svc.namespace != pod.namespace or not svc.selects(self._labels(pod)):
                continue
            for port in svc.ports:
                mode = self.engine.server_mode(pod.namespace, self._labels(pod), port.target_port).mode
                ports.setdefault(
                    port.target_port,
                    InboundPort(
                        port=port.port,
                        target_port=port.target_port,
                        app_port=app_port(port.target_port),
                        mode=mode,
                    ),
                )
        return list(ports.values())

    def app_listen_ports(self, pod: LabPod) -> list[int]:
        """Ports the pod's app listens on: behind the sidecar, or the target ports themselves."""
        targets = sorted(
            {
                p.target_port
                for s in self.services
                if s.namespace == pod.namespace and s.selects(self._labels(pod))
                for p in s.ports
            }
            | {p.target for p in pod.workload.ports}
        )
        return [app_port(t) for t in targets] if pod.has_sidecar else targets

    def sidecar_spec(self, pod: LabPod, pod_dir: Path) -> SidecarSpec:
        certs = pod_dir / "certs"
        return SidecarSpec(
            pod_name=pod.name,
            namespace=pod.namespace,
            pod_ip=pod.ip,
            service_account=pod.workload.sa,
            files=SidecarFiles(
                xds_dir=str(pod_dir / "xds"),
                cert_chain=str(certs / "cert-chain.pem"),
                private_key=str(certs / "key.pem"),
                root_cert=str(certs / "root-cert.pem"),
                access_log=str(pod_dir / "istio-proxy.log"),
            ),
            outbound=tuple(self.outbound(pod)),
            inbound=tuple(self.inbound(pod)),
        )

    def curl_routes(self, client: LabPod) -> list[Route]:
        """Where the client's app-container curl goes for each service name and port."""
        routes: list[Route] = []
        for svc in self.services:
            backends = self.endpoints(svc)
            for port in svc.ports:
                hosts = dns_names(svc.name, svc.namespace, client.namespace)
                if client.has_sidecar:
                    routes.append(Route(hosts, port.port, client.ip, OUTBOUND_PORT))
                elif backends:
                    routes.append(Route(hosts, port.port, backends[0].ip, port.target_port))
        return routes
