"""Convert raw Pod/Service JSON into PodInfo/ServiceInfo, and pick a workload's pods (pure, no I/O).

Works on plain dicts (the API's JSON) so it never depends on the client's generated models.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.errors import InputError
from agent.istio.mesh import running_containers
from agent.istio.sidecar_health import sidecar_status
from agent.kube.cluster import PodInfo, ServiceInfo, ServicePort

# A label key (optional DNS prefix + name) and value, as Kubernetes validates them.
_KEY = r"(?:[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_REQUIREMENT_RE = re.compile(rf"^(?:{_KEY})\s*(?:==?|!=)\s*{_VALUE}$")
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

# Controllers whose pods point straight at them via ownerReferences.
_DIRECT_OWNERS = ("ReplicaSet", "StatefulSet", "DaemonSet")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(value).items()}


def pod_from_dict(obj: Mapping[str, Any]) -> PodInfo:
    """PodInfo from Pod JSON: Ready from conditions; native-sidecar init containers count as containers."""
    meta, spec, status = _dict(obj.get("metadata")), _dict(obj.get("spec")), _dict(obj.get("status"))
    names = running_containers(spec)
    ready = any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in _list(status.get("conditions"))
    )
    owners = [o for o in _list(meta.get("ownerReferences")) if isinstance(o, dict)]
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else {})
    return PodInfo(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        labels=_str_map(meta.get("labels")),
        annotations=_str_map(meta.get("annotations")),
        containers=names,
        service_account=str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"),
        ip=status.get("podIP") or None,
        phase=str(status.get("phase") or "Unknown"),
        ready=ready,
        owner_kind=owner.get("kind"),
        owner_name=owner.get("name"),
        sidecar=sidecar_status(obj),
        run_as_users=_run_as_users(spec),
    )


def _run_as_users(spec: Mapping[str, Any]) -> dict[str, int]:
    """Each container's runAsUser: its own securityContext's, else the pod's (as the kubelet applies)."""
    pod_uid = _dict(spec.get("securityContext")).get("runAsUser")
    out: dict[str, int] = {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in _list(spec.get(key)):
            if not isinstance(c, dict):
                continue
            uid = _dict(c.get("securityContext")).get("runAsUser", pod_uid)
            if isinstance(uid, int) and not isinstance(uid, bool):
                out[str(c.get("name"))] = uid
    return out


def service_from_dict(obj: Mapping[str, Any]) -> ServiceInfo:
    meta, spec = _dict(obj.get("metadata")), _dict(obj.get("spec"))
    ports = tuple(
        ServicePort(
            port=int(p["port"]),
            target_port=p.get("targetPort"),
            name=str(p.get("name") or ""),
            protocol=str(p.get("protocol") or "TCP"),
        )
        for p in _list(spec.get("ports"))
        if isinstance(p, dict) and "port" in p
    )
    return ServiceInfo(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        ports=ports,
        selector=_str_map(spec.get("selector")),
    )


def is_label_selector(workload: str) -> bool:
    return "=" in workload


def validate_label_selector(selector: str) -> str:
    """Check an equality-based selector `k=v,k2!=v2`; raise InputError naming the bad term."""
    terms = [t.strip() for t in selector.split(",")]
    for term in terms:
        if not _REQUIREMENT_RE.match(term):
            raise InputError(f"invalid label selector term {term!r} in {selector!r} (expected key=value)")
    return ",".join(terms)


def selector_from_labels(labels: Mapping[str, str]) -> str:
    """`matchLabels`-style dict -> `k=v,...` (sorted for stable requests)."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def validate_name(kind: str, name: str) -> str:
    """A DNS-1123 object name; rejects anything that could smuggle path segments into a URL."""
    if not _NAME_RE.match(name or ""):
        raise InputError(f"invalid {kind} name {name!r} (expected a DNS-1123 name like 'reviews-v1')")
    return name


def owned_by_workload(pod: PodInfo, workload: str) -> bool:
    """True if the pod's controller is the workload, directly or via a Deployment's ReplicaSet."""
    if pod.owner_kind in _DIRECT_OWNERS and pod.owner_name == workload:
        return True
    # Deployment -> ReplicaSet `<deployment>-<pod-template-hash>` -> Pod.
    template_hash = pod.labels.get("pod-template-hash")
    return bool(
        pod.owner_kind == "ReplicaSet" and template_hash and pod.owner_name == f"{workload}-{template_hash}"
    )


def pods_of_workload(pods: Iterable[PodInfo], workload: str) -> list[PodInfo]:
    return [p for p in pods if owned_by_workload(p, workload)]


def ready_first(pods: Iterable[PodInfo]) -> list[PodInfo]:
    """Ready Running pods first (stable by name), so callers can take `[0]` as the best pick."""
    return sorted(pods, key=lambda p: (not (p.ready and p.phase == "Running"), p.name))


@dataclass(frozen=True)
class Endpoint:
    """One address behind a Service."""

    ip: str
    ready: bool
    pod: str | None = None
    ports: tuple[int, ...] = ()


def endpoints_from_dict(obj: Mapping[str, Any]) -> list[Endpoint]:
    """core/v1 Endpoints -> Endpoint list (ready and notReady addresses)."""
    out: list[Endpoint] = []
    for subset in _list(obj.get("subsets")):
        subset = _dict(subset)
        ports = tuple(
            int(p["port"]) for p in _list(subset.get("ports")) if isinstance(p, dict) and "port" in p
        )
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for addr in _list(subset.get(key)):
                addr = _dict(addr)
                ref = _dict(addr.get("targetRef"))
                pod = ref.get("name") if ref.get("kind") == "Pod" else None
                out.append(Endpoint(ip=str(addr.get("ip") or ""), ready=ready, pod=pod, ports=ports))
    return out


def endpoints_from_slice(obj: Mapping[str, Any]) -> list[Endpoint]:
    """discovery/v1 EndpointSlice -> Endpoint list (one per address)."""
    ports = tuple(int(p["port"]) for p in _list(obj.get("ports")) if isinstance(p, dict) and "port" in p)
    out: list[Endpoint] = []
    for ep in _list(obj.get("endpoints")):
        ep = _dict(ep)
        ready = _dict(ep.get("conditions")).get("ready") is not False  # unset means ready
        ref = _dict(ep.get("targetRef"))
        pod = ref.get("name") if ref.get("kind") == "Pod" else None
        out.extend(
            Endpoint(ip=str(ip), ready=ready, pod=pod, ports=ports) for ip in _list(ep.get("addresses"))
        )
    return out
