"""Small builders of raw Kubernetes/Istio objects for the policy-engine tests."""

from __future__ import annotations

from typing import Any


def dr(
    ns: str,
    name: str,
    host: str,
    *,
    tls: str | None = None,
    export_to: list[str] | None = None,
    selector: dict[str, str] | None = None,
    created: str = "",
    port_level: list[dict[str, Any]] | None = None,
    subsets: list[dict[str, Any]] | None = None,
    lb: str | None = None,
    api: str = "networking.istio.io/v1",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"host": host}
    tp: dict[str, Any] = {}
    if lb:
        tp["loadBalancer"] = {"simple": lb}
    if tls:
        tp["tls"] = {"mode": tls}
    if port_level is not None:
        tp["portLevelSettings"] = port_level
    if tp:
        spec["trafficPolicy"] = tp
    if export_to is not None:
        spec["exportTo"] = export_to
    if selector is not None:
        spec["workloadSelector"] = {"matchLabels": selector}
    if subsets is not None:
        spec["subsets"] = subsets
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if created:
        meta["creationTimestamp"] = created
    return {"apiVersion": api, "kind": "DestinationRule", "metadata": meta, "spec": spec}


def pa(
    ns: str,
    name: str,
    mode: str | None = None,
    *,
    selector: dict[str, str] | None = None,
    ports: dict[int, str | None] | None = None,
    created: str = "",
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if mode is not None:
        spec["mtls"] = {"mode": mode}
    if selector is not None:
        spec["selector"] = {"matchLabels": selector}
    if ports is not None:
        spec["portLevelMtls"] = {p: ({"mode": m} if m else {}) for p, m in ports.items()}
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if created:
        meta["creationTimestamp"] = created
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": meta,
        "spec": spec,
    }


def svc(ns: str, name: str, port: int = 80, target: int | str | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"app": name},
        "ports": [{"name": "http", "port": port, "targetPort": target if target is not None else port}],
    }
    spec.update(extra)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def pod(
    ns: str,
    name: str,
    app: str,
    *,
    sidecar: bool = True,
    labels: dict[str, str] | None = None,
    port: int = 80,
) -> dict[str, Any]:
    lab = {"app": app, **(labels or {})}
    containers: list[dict[str, Any]] = [{"name": app, "ports": [{"name": "http", "containerPort": port}]}]
    if sidecar:
        lab["security.istio.io/tlsMode"] = "istio"
        containers.append({"name": "istio-proxy"})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": lab},
        "spec": {"serviceAccountName": app, "containers": containers},
    }


def mesh(**cfg: Any) -> dict[str, Any]:
    import yaml

    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system"},
        "data": {"mesh": yaml.safe_dump(cfg)},
    }


def with_spec(obj: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """`obj` with raw spec fields set as given, for shapes the builders refuse to make (bad types, a null host)."""
    obj["spec"].update(spec)
    return obj
