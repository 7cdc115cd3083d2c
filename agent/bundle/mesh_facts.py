"""Offline, from an evidence bundle's resources/: was access logging on for each sidecar, and was the
server pod's istio-proxy in trouble when the probe ran. The same decisions the live check makes
(agent.istio.access_logging, agent.istio.sidecar_health), so `meshprober diagnose DIR` agrees with it.

Pure: reads the already-loaded bundle objects. Moves with the bundle code to agent/bundle/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from agent.istio.access_logging import decide
from agent.istio.sidecar_health import sidecar_status, trouble


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = _meta(obj).get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _mesh(objects: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    for obj in objects:
        name = str(_meta(obj).get("name") or "")
        data = obj.get("data")
        if (
            obj.get("kind") == "ConfigMap"
            and isinstance(data, Mapping)
            and (name == "istio" or name.startswith("istio-"))
        ):
            try:
                mesh = yaml.safe_load(data.get("mesh") or "") or {}
            except yaml.YAMLError:
                return None
            return mesh if isinstance(mesh, dict) else None
    return None


def _server_pods(
    objects: Sequence[Mapping[str, Any]], service: str | None, namespace: str | None
) -> list[Mapping[str, Any]]:
    svc = next(
        (
            o
            for o in objects
            if o.get("kind") == "Service"
            and _meta(o).get("name") == service
            and _meta(o).get("namespace") == namespace
        ),
        None,
    )
    selector = ((svc or {}).get("spec") or {}).get("selector") or {}
    if not selector:
        return []
    return [
        o
        for o in objects
        if o.get("kind") == "Pod"
        and _meta(o).get("namespace") == namespace
        and all(_labels(o).get(str(k)) == str(v) for k, v in selector.items())
    ]


def mesh_facts(
    objects: Sequence[Mapping[str, Any]] | None,
    texts: Mapping[str, str],
    source: Mapping[str, Any],
    service: str | None,
    namespace: str | None,
    started: float | None,
) -> dict[str, Any]:
    """DiagnoseInput fields: logging_off, server_logging_on, server_sidecar_trouble."""
    if not objects:
        return {}
    out: dict[str, Any] = {}
    servers = _server_pods(objects, service, namespace)
    if started is not None:
        troubles = []
        for pod in servers:
            what = trouble(sidecar_status(pod), started)
            if what is not None:
                troubles.append((f"{_meta(pod).get('namespace')}/{_meta(pod).get('name')}", what))
        out["server_sidecar_trouble"] = tuple(troubles)
    mesh = _mesh(objects)
    if mesh is None:
        return out  # logging unknown: absent lines prove nothing (the classifier's default)
    root = str(mesh.get("rootNamespace") or "istio-system")
    client = next(
        (
            o
            for o in objects
            if o.get("kind") == "Pod"
            and _meta(o).get("name") == source.get("pod")
            and _meta(o).get("namespace") == source.get("namespace")
        ),
        None,
    )
    off: dict[str, str] = {}
    if client is not None and "client-access.log" not in texts:
        d = decide(mesh, objects, root, str(source.get("namespace")), _labels(client), "CLIENT")
        if not d.on:
            off["client"] = f"{source.get('namespace')}/{source.get('pod')}: {d.why}"
    if servers:
        decisions = [(p, decide(mesh, objects, root, str(namespace), _labels(p), "SERVER")) for p in servers]
        p, d = decisions[0]
        if not d.on and "server-access.log" not in texts:
            off["server"] = f"{namespace}/{_meta(p).get('name')}: {d.why}"
        out["server_logging_on"] = "server-access.log" in texts and all(
            x.on and not x.filtered for _, x in decisions
        )
    out["logging_off"] = off
    return out
