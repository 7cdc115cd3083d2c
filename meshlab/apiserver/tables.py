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


def pod_row(p: dict[str, Any], now: dt.datetime) -> tuple[str, str, str]:
    """(Ready, Status, Restarts) as the API server's pod printer computes them (kubernetes
    pkg/printers/internalversion/printers.go printPod, 1.29+): restartable init containers (native
    sidecars) count in READY, and RESTARTS reads `N (AGE ago)` after a container restarted."""
    spec, status = p.get("spec") or {}, p.get("status") or {}
    restartable = {
        c.get("name") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    }
    total = len(spec.get("containers") or []) + len(restartable)
    ready = restarts = sidecar_restarts = 0
    last = sidecar_last = ""
    reason = status.get("reason") or status.get("phase") or "Unknown"
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, c in enumerate(init_statuses):
        state = c.get("state") or {}
        finished = ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""
        restarts += c.get("restartCount", 0)
        if c.get("name") in restartable:
            sidecar_restarts += c.get("restartCount", 0)
            sidecar_last = max(sidecar_last, finished)
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode") == 0:
            continue
        if c.get("name") in restartable and c.get("started"):
            ready += 1 if c.get("ready") else 0
            continue
        if term is not None:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif wait is not None and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    if not initializing or initialized:
        restarts, last = sidecar_restarts, sidecar_last
        for c in reversed(status.get("containerStatuses") or []):
            state = c.get("state") or {}
            restarts += c.get("restartCount", 0)
            last = max(last, ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "")
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated") is not None:
                term = state["terminated"]
                reason = term.get("reason") or f"ExitCode:{term.get('exitCode')}"
            elif c.get("ready") and state.get("running") is not None:
                ready += 1
    shown = str(restarts)
    if restarts and last:
        shown = f"{restarts} ({human_age(last, now)} ago)"
    return f"{ready}/{total}", reason, shown


def _pod_cells() -> list[Column]:
    now = lambda: dt.datetime.now(dt.UTC)  # noqa: E731 - evaluated per row, like the server's clock
    return [
        ("Ready", 0, lambda p: pod_row(p, now())[0]),
        ("Status", 0, lambda p: pod_row(p, now())[1]),
        ("Restarts", 0, lambda p: pod_row(p, now())[2]),
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
