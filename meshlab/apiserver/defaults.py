"""Server-side defaults: a Running pod status when a manifest has none, and Endpoints derived from
Services' selectors and pod IPs. Pure; no I/O (the clock and IP allocator are passed in).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

DEFAULT_NODE = "lab-node-1"
HOST_IP = "192.0.2.10"


def default_pod(pod: dict[str, Any], now: str, allocate_ip: Any) -> dict[str, Any]:
    """Fill spec.nodeName and a Ready, Running status for every container that lacks one."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("nodeName", DEFAULT_NODE)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("containers", [])
    # SetDefaults_PodSpec (kubernetes pkg/apis/core/v1/defaults.go) always sets an empty pod
    # securityContext; `kubectl debug` reads it unguarded (it panics on a pod without one).
    spec.setdefault("securityContext", {})
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Running")
    status.setdefault("podIP", allocate_ip())
    status.setdefault("podIPs", [{"ip": status["podIP"]}])
    status.setdefault("hostIP", HOST_IP)
    status.setdefault("startTime", now)
    running = status["phase"] == "Running"
    names = [c.get("name", "") for c in spec["containers"]]
    if "containerStatuses" not in status:
        status["containerStatuses"] = [
            {
                "name": c.get("name", ""),
                "ready": running,
                "restartCount": 0,
                "image": c.get("image", ""),
                "imageID": "",
                "started": running,
                "state": {"running": {"startedAt": now}} if running else {"terminated": {"exitCode": 0}},
            }
            for c in spec["containers"]
        ]
    if "conditions" not in status:
        ready = (
            "True"
            if running and all(s.get("ready") for s in status["containerStatuses"] if s.get("name") in names)
            else "False"
        )
        status["conditions"] = [
            {
                "type": t,
                "status": "True" if t in ("Initialized", "PodScheduled") else ready,
                "lastTransitionTime": now,
            }
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
    return pod


def default_service(svc: dict[str, Any], allocate_ip: Any) -> dict[str, Any]:
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    if spec["type"] != "ExternalName":
        spec.setdefault("clusterIP", allocate_ip())
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    return svc


def pod_ready(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def derive_endpoints(service: dict[str, Any], pods: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Endpoints for a Service with a selector, as the endpoints controller would write them."""
    spec = service.get("spec") or {}
    selector = spec.get("selector")
    if not selector:
        return None
    meta = service["metadata"]
    ready: list[dict[str, Any]] = []
    not_ready: list[dict[str, Any]] = []
    selected: list[dict[str, Any]] = []
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or any(labels.get(k) != v for k, v in selector.items()):
            continue
        selected.append(pod)
        addr = {
            "ip": ip,
            "nodeName": (pod.get("spec") or {}).get("nodeName", DEFAULT_NODE),
            "targetRef": {
                "kind": "Pod",
                "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"].get("uid", ""),
            },
        }
        (ready if pod_ready(pod) else not_ready).append(addr)
    ports = []
    named = {
        cp["name"]: cp.get("containerPort")
        for pod in selected
        for c in (pod.get("spec") or {}).get("containers") or []
        for cp in c.get("ports") or []
        if cp.get("name")
    }
    for p in spec.get("ports") or []:
        target = p.get("targetPort", p.get("port"))
        if isinstance(target, str):  # a named port resolves against the pods' container ports
            target = named.get(target, p.get("port"))
        port = {
            "port": target if isinstance(target, int) else p.get("port"),
            "protocol": p.get("protocol", "TCP"),
        }
        if p.get("name"):
            port["name"] = p["name"]
        ports.append(port)
    subset: dict[str, Any] = {"ports": ports}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": "ep-" + meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", "1"),
            "creationTimestamp": meta.get("creationTimestamp"),
            "labels": copy.deepcopy(meta.get("labels") or {}),
        },
        "subsets": [subset] if (ready or not_ready) else [],
    }


def endpoint_slice(endpoints: dict[str, Any]) -> dict[str, Any]:
    """The EndpointSlice the controller would mirror from a Service's Endpoints (kubectl describe uses it)."""
    meta = endpoints["metadata"]
    eps: list[dict[str, Any]] = []
    ports: list[dict[str, Any]] = []
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or ports
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for a in subset.get(key) or []:
                eps.append(
                    {
                        "addresses": [a["ip"]],
                        "conditions": {"ready": ready, "serving": ready, "terminating": False},
                        "nodeName": a.get("nodeName"),
                        "targetRef": a.get("targetRef"),
                    }
                )
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "addressType": "IPv4",
        "metadata": {
            "name": f"{meta['name']}-lab",
            "namespace": meta["namespace"],
            "uid": "eps-" + meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", "1"),
            "creationTimestamp": meta.get("creationTimestamp"),
            "labels": {
                "kubernetes.io/service-name": meta["name"],
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "endpoints": eps,
        # real slices always carry name/protocol/port (kubectl describe dereferences them)
        "ports": [
            {"name": p.get("name", ""), "protocol": p.get("protocol", "TCP"), "port": p.get("port")}
            for p in ports
        ],
    }


def default_workload(obj: dict[str, Any]) -> dict[str, Any]:
    """A settled rollout status for Deployments/StatefulSets/ReplicaSets that have none."""
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    status = obj.setdefault("status", {})
    for key in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas"):
        status.setdefault(key, replicas)
    status["observedGeneration"] = obj.get("metadata", {}).get("generation", 1)
    return obj
