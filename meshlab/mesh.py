"""The lab's miniature istiod: Kubernetes/Istio objects + our policy engine -> each sidecar's spec.

Pure: no I/O. For every pod with a sidecar it decides, through agent.istio's PolicyEngine (the same
engine `tls-check` uses), what each outbound cluster originates and what each inbound port accepts,
and returns the translator's input (meshlab.sidecar.SidecarSpec). It also computes the curl
routing of every app container (what istio-init's iptables rules would do). Given the scenario it
follows the control plane's knobs: the mesh ConfigMap of its revision, the cluster domain
(meshlab.domain), HBONE matches when ambient is enabled, and per-sidecar access logging
(meshlab.access_logging).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent.istio.client_tls import default_sni
from agent.istio.engine import PolicyEngine
from meshlab import access_logging, control_plane, domain
from meshlab.podenv import OUTBOUND_PORT, Route, dns_names
from meshlab.scenario import Scenario
from meshlab.sidecar import Endpoint, InboundPort, OutboundService, SidecarFiles, SidecarSpec, TrafficPolicy
from meshlab.topology import LabPod

STDOUT_FILES = ("/dev/stdout", "/dev/stderr")  # what `kubectl logs -c istio-proxy` shows


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
    domain: str = domain.CANONICAL

    @property
    def fqdn(self) -> str:
        return domain.fqdn(self.name, self.namespace, self.domain)

    @property
    def canonical_fqdn(self) -> str:
        """The FQDN the policy engine knows the Service by (see meshlab.domain)."""
        return domain.fqdn(self.name, self.namespace, domain.CANONICAL)

    def selects(self, labels: Mapping[str, str]) -> bool:
        return bool(self.selector) and all(labels.get(k) == v for k, v in self.selector.items())


def app_port(target_port: int) -> int:
    """Where a sidecar'd app really listens (the sidecar owns the target port, as after iptables)."""
    return target_port + 20000 if target_port < 45000 else target_port - 20000


def services_from(objects: Iterable[Mapping[str, Any]], cluster_domain: str = domain.CANONICAL) -> list[Svc]:
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
                meta.get("namespace", "default"),
                meta["name"],
                dict(spec.get("selector") or {}),
                tuple(ports),
                cluster_domain,
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


def lab_mesh_config(objects: Iterable[Mapping[str, Any]], scenario: Scenario) -> dict[str, Any]:
    """The meshConfig in force: the control plane's ConfigMap (`istio` or `istio-<rev>`) as served now,
    so `kubectl edit` of it takes effect as it would for istiod. Missing or unreadable: Istio's defaults."""
    name, ns = control_plane.mesh_configmap_name(scenario), scenario.control_plane.namespace
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "ConfigMap" and (meta.get("name"), meta.get("namespace")) == (name, ns):
            try:
                data = yaml.safe_load(str((obj.get("data") or {}).get("mesh") or "")) or {}
            except yaml.YAMLError:
                data = {}
            return dict(data) if isinstance(data, dict) else {}
    return {}


def _engine_objects(
    objects: list[dict[str, Any]], scenario: Scenario, mesh: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """What the policy engine reads: ConfigMap `istio` is its mesh config whatever the revision, and
    hosts in cluster.local terms. The lab's miniature istiod knows its own revision and domain."""
    kept = [
        o
        for o in objects
        if not (o.get("kind") == "ConfigMap" and (o.get("metadata") or {}).get("name") == "istio")
    ]
    kept.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "istio", "namespace": scenario.control_plane.namespace},
            "data": {"mesh": yaml.safe_dump(dict(mesh))},
        }
    )
    return domain.engine_view(kept, scenario.cluster_domain)


class MeshModel:
    """One snapshot of the lab's objects, with the policy engine built over it."""

    def __init__(
        self, objects: list[dict[str, Any]], pods: list[LabPod], scenario: Scenario | None = None
    ) -> None:
        self.objects = objects
        # Without a scenario (unit tests of the translator path): cluster.local, logs on, no HBONE.
        self.scenario = scenario or Scenario(name="-", workloads=[])
        self.knobs = scenario is not None
        self.mesh = lab_mesh_config(objects, self.scenario) if scenario is not None else {}
        # The objects handed over are already in cluster.local terms (meshlab.domain): say so, or the
        # engine would read the pods' `--domain` arguments and map the hosts a second time.
        self.engine = PolicyEngine(
            _engine_objects(objects, self.scenario, self.mesh) if scenario else objects,
            cluster_domain=domain.CANONICAL,
        )
        self.domain = self.scenario.cluster_domain
        self.hbone = self.scenario.control_plane.ambient_enabled
        self.telemetries = [o for o in objects if o.get("kind") == "Telemetry"]
        self.services = services_from(objects, self.domain)
        self.labels = pod_labels(objects)
        self.annotations = {
            (o["metadata"].get("namespace", "default"), o["metadata"]["name"]): dict(
                o["metadata"].get("annotations") or {}
            )
            for o in objects
            if o.get("kind") == "Pod"
        }
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
                decision = self.engine.client_tls(
                    client.namespace, self._labels(client), svc.canonical_fqdn, port.port
                )
                sni = decision.sni
                if sni == default_sni(port.port, None, svc.canonical_fqdn):
                    sni = None  # Istio's default SNI, rendered in the cluster's own domain below
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
                        sni=sni,
                        subject_alt_names=tuple(decision.subject_alt_names or ()),
                        traffic_policy=_traffic_policy(decision.traffic_policy),
                        domain=self.domain,
                        hbone=self.hbone,
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

    def access_logs(self, pod: LabPod) -> tuple[access_logging.LogDecision, access_logging.LogDecision]:
        """(inbound, outbound) access-log decisions for the pod's sidecar."""
        labels = self._labels(pod)
        return (
            access_logging.decide(self.mesh, self.telemetries, pod.namespace, labels, access_logging.SERVER),
            access_logging.decide(self.mesh, self.telemetries, pod.namespace, labels, access_logging.CLIENT),
        )

    def _node_metadata(self, pod: LabPod) -> tuple[tuple[str, Any], ...]:
        """The bootstrap node metadata a tool reads to find the control plane (keys as in a real
        1.22 sidecar's bootstrap: shared/fixtures/istio-real-modern/config_dumps/sidecar_istio1.22.3_*)."""
        sc = self.scenario
        trust = str(self.mesh.get("trustDomain") or "cluster.local")
        meta: dict[str, Any] = {
            "LABELS": self._labels(pod),
            "ANNOTATIONS": self.annotations.get((pod.namespace, pod.name), {}),
            "PROXY_CONFIG": {
                "discoveryAddress": control_plane.discovery_address(sc),
                "proxyAdminPort": 15000,
            },
            "PILOT_SAN": [control_plane.discovery_address(sc).rsplit(":", 1)[0]],
            "CLUSTER_ID": "Kubernetes",
            "MESH_ID": trust,
        }
        proxy_meta = (self.mesh.get("defaultConfig") or {}).get("proxyMetadata") or {}
        if isinstance(proxy_meta, dict):
            # ISTIO_META_* proxy metadata becomes node metadata (ENABLE_HBONE with the ambient profile).
            for k, v in proxy_meta.items():
                if str(k).startswith("ISTIO_META_"):
                    meta[str(k).removeprefix("ISTIO_META_")] = str(v)
        return tuple(sorted(meta.items()))

    def sidecar_spec(self, pod: LabPod, pod_dir: Path) -> SidecarSpec:
        certs = pod_dir / "certs"
        inbound_log, outbound_log = self.access_logs(pod) if self.knobs else (None, None)
        # One file per sidecar, as Envoy writes one log stream: stdout is the container log
        # (`kubectl logs -c istio-proxy`); any other path is a file inside the istio-proxy container.
        # One log stream per Envoy here: the first side that logs decides file and format.
        chosen_format = next((d for d in (inbound_log, outbound_log) if d is not None and d.path), None)
        chosen = chosen_format.path if chosen_format else None
        log_file = pod_dir / "istio-proxy.log"
        if chosen and chosen not in STDOUT_FILES:
            log_file = pod_dir / "proxy" / chosen.lstrip("/")
        metadata = self._node_metadata(pod) if self.knobs else ()
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
                access_log=str(log_file),
            ),
            outbound=tuple(self.outbound(pod)),
            inbound=tuple(self.inbound(pod)),
            domain=self.domain,
            log_inbound=inbound_log is None or inbound_log.path is not None,
            log_outbound=outbound_log is None or outbound_log.path is not None,
            log_text_format=chosen_format.text_format if chosen_format else None,
            log_json_format=dict(chosen_format.json_format)
            if chosen_format and chosen_format.json_format
            else None,
            node_metadata=metadata,
        )

    def curl_routes(self, client: LabPod) -> list[Route]:
        """Where the client's app-container curl goes for each service name and port."""
        routes: list[Route] = []
        for svc in self.services:
            backends = self.endpoints(svc)
            for port in svc.ports:
                hosts = dns_names(svc.name, svc.namespace, client.namespace, self.domain)
                if client.has_sidecar:
                    routes.append(Route(hosts, port.port, client.ip, OUTBOUND_PORT))
                elif backends:
                    routes.append(Route(hosts, port.port, backends[0].ip, port.target_port))
        return routes
