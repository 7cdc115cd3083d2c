"""`meta.k8s.io/v1 Table` rendering for kubectl's human output (columns as a real server prints them).

Pure; no I/O. Age is computed against the `now` passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

Column = tuple[str, int, Callable[[dict[str, Any]], Any]]  # name, priority, cell


def human_age(ts: str | None, now: dt.datetime) -> str:
    if not ts:
        return "<unknown>"
    try:
        then = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    s = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size * 2 or (unit == "m" and s >= 60):
            return f"{s // size}{unit}"
    return f"{s}s"


def _pod_cells() -> list[Column]:
    def ready(p: dict[str, Any]) -> str:
        cs = p.get("status", {}).get("containerStatuses") or []
        return f"{sum(1 for c in cs if c.get('ready'))}/{len(p.get('spec', {}).get('containers') or [])}"

    return [
        ("Ready", 0, ready),
        ("Status", 0, lambda p: p.get("status", {}).get("phase", "Unknown")),
        (
            "Restarts",
            0,
            lambda p: sum(
                c.get("restartCount", 0) for c in p.get("status", {}).get("containerStatuses") or []
            ),
        ),
        ("Age", 0, lambda p: None),
        ("IP", 1, lambda p: p.get("status", {}).get("podIP", "<none>")),
        ("Node", 1, lambda p: p.get("spec", {}).get("nodeName", "<none>")),
        ("Nominated Node", 1, lambda p: "<none>"),
        ("Readiness Gates", 1, lambda p: "<none>"),
    ]


def _ports(s: dict[str, Any]) -> str:
    ports = s.get("spec", {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _selector(s: dict[str, Any]) -> str:
    sel = s.get("spec", {}).get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>"


def _endpoints(e: dict[str, Any]) -> str:
    addrs = [
        f"{a['ip']}:{p.get('port')}"
        for s in e.get("subsets") or []
        for a in s.get("addresses") or []
        for p in s.get("ports") or []
    ]
    return ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "") or "<none>"


COLUMNS: dict[str, list[Column]] = {
    "pods": _pod_cells(),
    "services": [
        ("Type", 0, lambda s: s.get("spec", {}).get("type", "ClusterIP")),
        ("Cluster-IP", 0, lambda s: s.get("spec", {}).get("clusterIP", "<none>")),
        ("External-IP", 0, lambda s: "<none>"),
        ("Port(s)", 0, _ports),
        ("Age", 0, lambda s: None),
        ("Selector", 1, _selector),
    ],
    "endpoints": [("Endpoints", 0, _endpoints), ("Age", 0, lambda e: None)],
    "configmaps": [
        ("Data", 0, lambda c: len(c.get("data") or {}) + len(c.get("binaryData") or {})),
        ("Age", 0, lambda c: None),
    ],
    "namespaces": [
        ("Status", 0, lambda n: n.get("status", {}).get("phase", "Active")),
        ("Age", 0, lambda n: None),
    ],
    "deployments": [
        (
            "Ready",
            0,
            lambda d: f"{d.get('status', {}).get('readyReplicas', 0)}/{d.get('spec', {}).get('replicas', 1)}",
        ),
        ("Up-to-date", 0, lambda d: d.get("status", {}).get("updatedReplicas", 0)),
        ("Available", 0, lambda d: d.get("status", {}).get("availableReplicas", 0)),
        ("Age", 0, lambda d: None),
    ],
    "destinationrules": [
        ("Host", 0, lambda d: d.get("spec", {}).get("host", "")),
        ("Age", 0, lambda d: None),
    ],
    "peerauthentications": [
        ("Mode", 0, lambda p: (p.get("spec", {}).get("mtls") or {}).get("mode", "")),
        ("Age", 0, lambda p: None),
    ],
}


def render_table(
    plural: str, objects: Sequence[dict[str, Any]], resource_version: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    cols = COLUMNS.get(plural, [("Age", 0, lambda o: None)])
    defs = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    defs += [
        {"name": n, "type": "string", "format": "", "description": n, "priority": pr} for n, pr, _ in cols
    ]
    rows = []
    for obj in objects:
        meta = obj.get("metadata", {})
        cells: list[Any] = [meta.get("name", "")]
        for name, _, fn in cols:
            cells.append(human_age(meta.get("creationTimestamp"), now) if name == "Age" else fn(obj))
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels")
                if k in meta
            },
        }
        rows.append({"cells": cells, "object": partial})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": defs,
        "rows": rows,
    }
