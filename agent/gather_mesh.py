"""What the evidence gathering needs to know about the mesh before it reads anything: is access logging
on for each sidecar, how long a window to read and how many bytes, which cluster (subset) the request
used, is the server's istio-proxy healthy, and what part of the control plane could not be read.

Pure helpers over already-fetched data (the policy objects, the discovered control plane, pod
statuses, parsed clusters); agent.gather calls them and does the I/O. Moves with gather to agent/check/.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import yaml

from agent.envoy.config_dump import find_cluster
from agent.evidence import AccessLogEntry, ClusterInfo
from agent.istio.access_logging import LoggingDecision, Mode, decide, enable_telemetry
from agent.istio.control_plane import DEFAULT_NAMESPACE, ControlPlane
from agent.istio.routing import Route
from agent.istio.sidecar_health import trouble
from agent.kube.cluster import PodInfo
from agent.model import Confidence, Diagnosis

# Envoy flushes file access logs every `--file-flush-interval-msec`, which pilot-agent sets from
# proxyConfig.fileFlushInterval, default 1000 ms (istio/istio 86c9f01f pkg/envoy/proxy.go): a line
# is in the container log only after that, so logs are read no sooner than this after the probe.
FLUSH_S = 1.0
FLUSH_SLACK_S = 0.2
LOG_MARGIN_S = 5  # seconds of log before the probe started, for clock skew between node and agent
LOG_LIMIT_BYTES = 512 * 1024  # per container: the probe's window, not the pod's history


def log_since(probe_started: float, now: float) -> int:
    """`sinceSeconds` covering the probe and the margin before it (>= 1, as the API requires)."""
    return max(1, math.ceil(now - probe_started) + LOG_MARGIN_S)


def flush_interval(mesh: Mapping[str, Any] | None) -> float:
    """meshConfig.defaultConfig.fileFlushInterval (a protobuf duration like "5s" or "0.5s"), else 1 s."""
    text = str(((mesh or {}).get("defaultConfig") or {}).get("fileFlushInterval") or "")
    try:
        return float(text[:-1]) if text.endswith("s") and not text.endswith("ms") else FLUSH_S
    except ValueError:
        return FLUSH_S


def flush_wait(probe_ended: float, now: float, interval: float = FLUSH_S) -> float:
    """Seconds still to wait so the probe's line has been flushed (0 when already past), bounded."""
    return max(0.0, probe_ended + min(interval, 30.0) + FLUSH_SLACK_S - now)


def _mesh_from_objects(objects: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """The meshConfig of the mesh ConfigMap among the policy objects, and the root namespace."""
    for obj in objects:
        meta = obj.get("metadata") or {}
        data = obj.get("data")
        if obj.get("kind") == "ConfigMap" and isinstance(data, Mapping) and isinstance(meta, Mapping):
            name = str(meta.get("name") or "")
            if name == "istio" or (name.startswith("istio-") and "mesh" in data):
                try:
                    mesh = yaml.safe_load(data.get("mesh") or "") or {}
                except yaml.YAMLError:
                    return None, DEFAULT_NAMESPACE
                if isinstance(mesh, dict):
                    return mesh, str(mesh.get("rootNamespace") or DEFAULT_NAMESPACE)
    return None, DEFAULT_NAMESPACE


def logging_decision(
    objects: Sequence[Mapping[str, Any]], plane: ControlPlane | None, pod: PodInfo, mode: Mode
) -> LoggingDecision | None:
    """Does this pod's sidecar log requests of this direction to its stdout? None = unknown (no mesh
    config could be read): then logs are read, but a missing line proves nothing."""
    if plane is not None and plane.gaps_affecting("logging"):
        return None  # Telemetry resources unreadable: logging cannot be known
    if plane is not None and plane.configmap is not None:
        mesh: dict[str, Any] | None = dict(plane.mesh)
        root = plane.root_namespace
    else:
        mesh, root = _mesh_from_objects(objects)
    if mesh is None:
        return None
    return decide(mesh, objects, root, pod.namespace, pod.labels, mode)


def sidecar_troubles(pods: Iterable[PodInfo], probe_started: float) -> tuple[tuple[str, str], ...]:
    out = []
    for p in pods:
        what = trouble(p.sidecar, probe_started)
        if what is not None:
            out.append((f"{p.namespace}/{p.name}", what))
    return tuple(out)


def choose_cluster(
    clusters: Sequence[ClusterInfo],
    fqdn: str,
    port: int,
    entry: AccessLogEntry | None,
    routed: Route | None = None,
) -> tuple[ClusterInfo | None, str | None]:
    """The cluster the request used: the one the client access log names (a subset cluster
    `outbound|PORT|SUBSET|HOST` when a VirtualService routed there), else the subset the
    VirtualService route names, else the default cluster. The second value is a note saying how
    it was chosen when that is not the access log."""
    named = entry.upstream_cluster if entry is not None else None
    if named:
        hit = next((c for c in clusters if c.name == named), None)
        if hit is not None:
            return hit, None
    head, sep, _ = fqdn.partition(".svc.")

    def lookup(subset: str | None) -> ClusterInfo | None:
        found = find_cluster(clusters, fqdn, port, subset)
        if found is None and sep:
            found = find_cluster(clusters, head + ".svc", port, subset)  # another cluster domain
        return found

    if routed is not None and routed.subset is not None:
        hit = lookup(routed.subset)
        if hit is not None:
            return (
                hit,
                f"VirtualService {routed.virtual_service} routes this request to subset {routed.subset}",
            )
    default = lookup(None)
    subsets = sorted({c.subset for c in clusters if c.subset and c.port == port})
    if routed is not None and routed.split:
        names = ", ".join(f"{s or '(default)'} {w}%" for s, w in routed.subsets)
        return default, (
            f"VirtualService {routed.virtual_service} splits this route across subsets ({names}); without "
            "the access-log line the default cluster is assumed"
        )
    if subsets and not named:
        return default, (
            f"the sidecar has subset clusters ({', '.join(subsets)}) for {fqdn}:{port}; without the access-log "
            "line the default cluster is assumed"
        )
    return default, None


def with_endpoint_modes(
    clusters: Sequence[ClusterInfo], eds: Mapping[str, Mapping[str, str]]
) -> list[ClusterInfo]:
    """Clusters with their endpoints' tlsMode from an include_eds fetch added."""
    return [
        replace(c, endpoint_tls_modes={**c.endpoint_tls_modes, **eds[c.name]}) if c.name in eds else c
        for c in clusters
    ]


def view_gaps(plane: ControlPlane | None) -> tuple[str, ...]:
    """The gaps that put the policy view in doubt (the mesh config); Telemetry and istiod-discovery
    gaps change what the logs prove and where istiod is, not the policy verdict."""
    return tuple(g.text() for g in plane.gaps_affecting("policy")) if plane is not None else ()


def with_logging_hint(diagnosis: Diagnosis, off_namespaces: Sequence[str]) -> Diagnosis:
    """When logging was off and the verdict is not certain, the fix also shows the Telemetry
    resource that turns access logging on, so the next failure carries the sidecars' lines."""
    if (
        diagnosis.healthy
        or not off_namespaces
        or diagnosis.confidence is Confidence.HIGH
        or diagnosis.remedy is None
    ):
        return diagnosis
    ns = sorted(set(off_namespaces))
    hint = (
        "\n\nAccess logging is off for "
        + ", ".join(ns)
        + "; to record the sidecars' lines for the next failure:\n"
    )
    hint += "---\n".join(enable_telemetry(n) for n in ns)
    return replace(diagnosis, remedy=replace(diagnosis.remedy, text=diagnosis.remedy.text + hint))
