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

from agent.diagnose.assemble import select_cluster
from agent.evidence import AccessLogEntry, ClusterInfo
from agent.istio.access_logging import LoggingDecision, Mode, decide
from agent.istio.control_plane import DEFAULT_NAMESPACE, ControlPlane
from agent.istio.mesh import DEFAULT_FILE_FLUSH_S, file_flush_interval
from agent.istio.routing import Route
from agent.istio.sidecar_health import trouble
from agent.kube.cluster import PodInfo

# Envoy flushes file access logs every `--file-flush-interval-msec`, which pilot-agent sets from
# proxyConfig.fileFlushInterval, default 1000 ms (istio/istio 86c9f01f pkg/envoy/proxy.go): a line
# is in the container log only after that, so logs are read no sooner than this after the probe.
FLUSH_S = DEFAULT_FILE_FLUSH_S
FLUSH_SLACK_S = 0.2
# A followed log delivers a flushed line within milliseconds (the kubelet waits for writes with
# fsnotify and flushes each to the stream: kubernetes pkg/kubelet/kuberuntime/logs/logs.go). When a
# user is waiting and the client's line says the server's sidecar never answered the request over
# HTTP (server_may_have_logged), the server's stream cannot bring the request's line, and is kept
# only this little past the flush interval for the lines around it. Every other wait (the client's,
# which ends as its line arrives; a server that may have logged; the schedule's) keeps FLUSH_SLACK_S.
STREAM_SLACK_S = 0.02
# Envoy's %RESPONSE_CODE_DETAILS% of a client-side local reply sent because no HTTP response came
# from the upstream sidecar (envoy/stream_info/stream_info.h ResponseCodeDetailValues):
# the request never got an answer from the server's sidecar, so that sidecar logged no line for it.
_NO_UPSTREAM_ANSWER = (
    "upstream_reset_before_response_started",
    "no_healthy_upstream",
    "cluster_not_found",
    "route_not_found",
)
LOG_MARGIN_S = 5  # seconds of log before the probe started, for clock skew between node and agent
LOG_LIMIT_BYTES = 512 * 1024  # per container: the probe's window, not the pod's history


def log_since(probe_started: float, now: float) -> int:
    """`sinceSeconds` covering the probe and the margin before it (>= 1, as the API requires)."""
    return max(1, math.ceil(now - probe_started) + LOG_MARGIN_S)


def flush_interval(mesh: Mapping[str, Any] | None) -> float:
    """meshConfig.defaultConfig.fileFlushInterval in seconds, else 1 s (agent.istio.mesh)."""
    return file_flush_interval(mesh)


def server_may_have_logged(client: AccessLogEntry | None) -> bool:
    """Could the server's sidecar hold a line for this request? Unknown (no client line, or a log
    layout without response details) counts as yes."""
    details = client.response_code_details if client is not None else None
    return not details or not details.startswith(_NO_UPSTREAM_ANSWER)


def log_deadline(probe_ended: float, interval: float = FLUSH_S, slack: float = FLUSH_SLACK_S) -> float:
    """When the probe's line has been flushed and delivered, if it ever will be: a followed log is
    not waited for past it, a plain read is made at it. Same clock as `probe_ended`."""
    return probe_ended + min(interval, 30.0) + slack


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


def unknown_why(plane: ControlPlane | None) -> str:
    """Why logging could not be decided (logging_decision returned None)."""
    gaps = plane.gaps_affecting("logging") if plane is not None else ()
    if gaps:
        return "; ".join(g.text() for g in gaps)
    return "no mesh config could be read"


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
    """The cluster the request used (agent.diagnose.assemble.select_cluster: the access log's, else the
    VirtualService route's subset, else the default cluster), and a note saying how it was chosen
    when that is not the access log."""
    chosen = select_cluster(clusters, entry, (fqdn, port), routed)
    named = entry.upstream_cluster if entry is not None else None
    if chosen is None or (named and chosen.name == named):
        return chosen, None
    if routed is not None and routed.subset is not None and chosen.subset == routed.subset:
        return (
            chosen,
            f"VirtualService {routed.virtual_service} routes this request to subset {routed.subset}",
        )
    if routed is not None and routed.split:
        names = ", ".join(f"{s or '(default)'} {w}%" for s, w in routed.subsets)
        return chosen, (
            f"VirtualService {routed.virtual_service} splits this route across subsets ({names}); without "
            "the access-log line the default cluster is assumed"
        )
    subsets = sorted({c.subset for c in clusters if c.subset and c.port == port})
    if subsets and not named:
        return chosen, (
            f"the sidecar has subset clusters ({', '.join(subsets)}) for {fqdn}:{port}; without the access-log "
            "line the default cluster is assumed"
        )
    return chosen, None


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
