"""Who is who: services by host, client pods, a service's endpoints and their target ports.

Kubernetes DNS-style host resolution from the client namespace; pods, raw pod objects or
PodInfo-like objects as endpoints. Pure: no I/O; unknown names raise InputError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.errors import InputError
from agent.istio.parse import parse_pod
from agent.istio.resources import Invalid, Pod, Resources, Service, ServicePort

_SUFFIX = ".svc.cluster.local"


def expand_host(host: str, namespace: str | None) -> str:
    """The Service FQDN a pod in `namespace` reaches by `host` through Kubernetes DNS search.

    `svc` -> `svc.<namespace>.svc.cluster.local`; `svc.ns` and `svc.ns.svc` are completed; anything
    else, and a bare name when the namespace is unknown, stays as written (lower-cased, no final dot).
    """
    host = host.strip().lower().rstrip(".")
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}{_SUFFIX}" if namespace else host
    if len(parts) == 2:
        return f"{host}{_SUFFIX}"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.cluster.local"
    return host


class Topology:
    def __init__(self, resources: Resources, legacy: bool) -> None:
        self.resources = resources
        self.legacy = legacy
        self.services = {s.fqdn: s for s in resources.services}
        self._endpoints: dict[str, list[Pod]] = {}

    def _sidecar(self, pod: Pod) -> bool:
        # The istio-proxy container is the sidecar (it captures traffic and enforces PeerAuthentication);
        # the tlsMode label only decides auto-mTLS endpoint marking (has_sidecar).
        return pod.has_sidecar or pod.has_proxy_container

    def find_service(self, client_ns: str, host: str) -> Service:
        host = host.strip().lower().rstrip(".")
        fqdn = expand_host(host, client_ns)
        svc = self.services.get(fqdn)
        if svc is None:
            known = ", ".join(sorted(self.services)) or "none"
            raise InputError(
                f"host {host!r} (as {fqdn} from namespace {client_ns}) is not a known Service; known: {known}"
            )
        return svc

    def find_client(self, namespace: str, pod_name: str | None) -> Pod:
        if pod_name is None:
            return Pod(namespace, "*", from_template=True, assume_sidecar=True)
        pods = [p for p in self.resources.pods if p.namespace == namespace]
        for cand in (
            [p for p in pods if p.name == pod_name and not p.from_template],
            [p for p in pods if p.name == pod_name],
            [p for p in pods if p.name.startswith(pod_name + "-")],
        ):
            if cand:
                return cand[0]
        raise InputError(f"pod {namespace}/{pod_name} not found in the resources")

    def endpoints(self, svc: Service) -> list[Pod]:
        """Pods selected by the service (cached: the audit asks once per client namespace)."""
        if svc.fqdn not in self._endpoints:
            if svc.external_name is not None:
                eps = [
                    Pod(
                        svc.namespace, svc.external_name or svc.name, from_template=True, assume_sidecar=False
                    )
                ]
            elif not svc.selector:
                eps = []
            else:
                eps = [
                    p
                    for p in self.resources.pods
                    if p.namespace == svc.namespace
                    and all(p.labels.get(k) == v for k, v in svc.selector.items())
                ]
            self._endpoints[svc.fqdn] = eps
        return list(self._endpoints[svc.fqdn])

    @staticmethod
    def target_port(sport: ServicePort, pod: Pod | None) -> int | None:
        if sport.target_port is None:
            return sport.port
        if isinstance(sport.target_port, int):
            return sport.target_port
        if pod is not None and sport.target_port in pod.container_ports:
            return pod.container_ports[sport.target_port]
        return sport.target_port if str(sport.target_port).isdigit() else None  # type: ignore[return-value]

    def _as_pod(self, pod: Any, namespace: str) -> Pod | None:
        """Accepts our Pod, a raw pod object, a PodInfo-like object (labels + has_sidecar), or "ns/name"."""
        if isinstance(pod, Pod):
            return pod
        if isinstance(pod, Mapping) and not pod.get("spec"):  # only a reference: look it up
            meta = pod.get("metadata") or {}
            pod = f"{meta.get('namespace') or namespace}/{meta.get('name')}"
        elif isinstance(pod, Mapping):
            try:
                return parse_pod({**pod, "metadata": {"namespace": namespace, **(pod.get("metadata") or {})}})
            except (Invalid, AttributeError, TypeError):
                return None
        if hasattr(pod, "labels") and hasattr(pod, "has_sidecar"):
            labels = dict(pod.labels)
            sidecar = bool(pod.has_sidecar)
            name = str(getattr(pod, "name", "?"))
            return Pod(str(getattr(pod, "namespace", namespace)), name, labels, assume_sidecar=sidecar)
        ns, _, name = str(pod).rpartition("/")
        ns = ns or namespace
        return next((p for p in self.resources.pods if p.namespace == ns and p.name == name), None)
