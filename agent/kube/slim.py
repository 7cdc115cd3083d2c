"""Keep only the fields the agent reads from cached objects (pure; no I/O).

A cluster-wide cache of 10,000 pods holds whatever the pods carry: managedFields, every container's
env and volume mounts, Istio's multi-kilobyte `sidecar.istio.io/status` annotation. Only what
`objects.pod_from_dict`, `objects.service_from_dict`, `objects.endpoints_from_slice` and the policy
engine (agent/istio/parse.py) read is kept, so the cache's memory follows the object count, not
their size. Istio policy objects keep their whole spec (the engine reads all of it) but lose
metadata noise (managedFields, last-applied annotations).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from agent.istio.mesh import DEFAULT_CONTAINER_ANNOTATION, SIDECAR_CONTAINER

Slimmer = Callable[[Mapping[str, Any]], dict[str, Any]]

_META_KEYS = ("name", "namespace", "labels", "resourceVersion", "creationTimestamp", "generation", "uid")


def _s(value: Any) -> Any:
    """Strings repeated across thousands of objects (label keys and values, namespaces, container
    names) become one shared object each; JSON decoding makes a new one per occurrence."""
    return sys.intern(value) if isinstance(value, str) else value


def _labels(value: Any) -> dict[str, Any]:
    return {_s(k): _s(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _map(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _meta(obj: Mapping[str, Any], *, annotations: bool = False) -> dict[str, Any]:
    meta = _map(obj.get("metadata"))
    out = {k: meta[k] for k in _META_KEYS if k in meta}
    if "namespace" in out:
        out["namespace"] = _s(out["namespace"])
    if "labels" in out:
        out["labels"] = _labels(out["labels"])
    if annotations:
        kept = {k: v for k, v in _map(meta.get("annotations")).items() if k == DEFAULT_CONTAINER_ANNOTATION}
        if kept:
            out["annotations"] = kept
    owners = [
        {k: _s(o[k]) for k in ("kind", "name", "controller") if k in o}
        for o in _items(meta.get("ownerReferences"))
    ]
    if owners:
        out["ownerReferences"] = owners
    return out


def _domain_args(args: Any) -> list[str]:
    """Of istio-proxy's args only `--domain <value>` (agent.istio.mesh.cluster_domain_of reads it)."""
    if not isinstance(args, list):
        return []
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--domain" and i + 1 < len(args):
            out += ["--domain", _s(str(args[i + 1]))]
        elif isinstance(arg, str) and arg.startswith("--domain="):
            out.append(_s(arg))
    return out


def slim_pod(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    containers = [
        {
            "name": _s(c.get("name")),
            **({"args": _domain_args(c.get("args"))} if c.get("name") == SIDECAR_CONTAINER else {}),
            "ports": [{k: p[k] for k in ("name", "containerPort") if k in p} for p in _items(c.get("ports"))],
        }
        for c in _items(spec.get("containers"))
    ]
    inits = [
        {k: c[k] for k in ("name", "restartPolicy") if k in c} for c in _items(spec.get("initContainers"))
    ]
    slim_spec: dict[str, Any] = {"containers": containers}
    if inits:
        slim_spec["initContainers"] = inits
    for key in ("serviceAccountName", "serviceAccount"):
        if key in spec:
            slim_spec[key] = spec[key]
    slim_status: dict[str, Any] = {k: _s(status[k]) for k in ("phase", "podIP") if k in status}
    ready = [c for c in _items(status.get("conditions")) if c.get("type") == "Ready"]
    if ready:
        slim_status["conditions"] = [{"type": "Ready", "status": ready[0].get("status")}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(obj, annotations=True),
        "spec": slim_spec,
        "status": slim_status,
    }


def slim_service(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec = _map(obj.get("spec"))
    keep = ("ports", "selector", "type", "clusterIP", "externalName")
    spec = {k: spec[k] for k in keep if k in spec}
    if "selector" in spec:
        spec["selector"] = _labels(spec["selector"])
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(obj),
        "spec": spec,
    }


def slim_endpoint_slice(obj: Mapping[str, Any]) -> dict[str, Any]:
    endpoints = [
        {
            "addresses": e.get("addresses") or [],
            "conditions": {"ready": _map(e.get("conditions")).get("ready")},
            "targetRef": {k: v for k, v in _map(e.get("targetRef")).items() if k in ("kind", "name")},
        }
        for e in _items(obj.get("endpoints"))
    ]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": _meta(obj),
        "addressType": obj.get("addressType"),
        "endpoints": endpoints,
        "ports": obj.get("ports") or [],
    }


def slim_policy(api_version: str, kind: str) -> Slimmer:
    """Istio policy objects: the whole spec, trimmed metadata, the listed version and kind."""

    def slim(obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"apiVersion": api_version, "kind": kind, "metadata": _meta(obj), "spec": obj.get("spec")}

    return slim


def matches_selector(labels: Mapping[str, str], selector: str | None) -> bool:
    """An equality-based selector (`k=v,k2!=v2`, as objects.validate_label_selector allows) on labels."""
    if not selector:
        return True
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
    return True
