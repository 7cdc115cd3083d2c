"""Cross-check evidence for a failed probe, fetched in parallel (part of the pipeline).

The source sidecar's cluster for the target (filtered config dump), the access logs of the source
and destination istio-proxy containers, and the policy engine's view of the live resources. Each
piece is optional: a failure becomes a note and an error count, never an exception.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.config import PathConfig
from agent.envoy.access_log import find_by_request_id, parse_log
from agent.envoy.config_dump import find_cluster, parse_clusters
from agent.errors import MeshproberError
from agent.evidence import AccessLogEntry, ClusterInfo, PolicyView
from agent.kube.cluster import Cluster, PodInfo
from agent.kube.proxy import fetch_clusters_config_dump

if TYPE_CHECKING:
    from agent.pipeline import CheckContext

LOG_WINDOW_S = 120
SIDECAR = "istio-proxy"
MAX_SERVER_PODS = 3  # destination pods whose logs are read: enough to find the line, bounded


@dataclass
class Gathered:
    cluster_info: ClusterInfo | None = None
    dump: bytes | None = None
    client_log: str | None = None
    server_log: str | None = None
    policy: PolicyView | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _server_pods(cluster: Cluster, path: PathConfig) -> list[PodInfo]:
    service, namespace, _ = path.destination()
    if not service or not namespace:
        return []
    svc = next((s for s in cluster.list_services(namespace) if s.name == service), None)
    if svc is None or not svc.selector:
        return []
    selector = ",".join(f"{k}={v}" for k, v in sorted(svc.selector.items()))
    return [p for p in cluster.list_pods(namespace, selector) if p.has_sidecar][:MAX_SERVER_PODS]


def gather(
    ctx: CheckContext, path: PathConfig, pod: PodInfo, logs_after: Future[Any] | None = None
) -> Gathered:
    """Cross-check evidence, fetched in parallel; each piece is optional and failures become notes.

    The config dump and the policy view start at once; the access logs wait for `logs_after` (the
    confirming second probe) so they are read after it, when the first probe's line has been flushed.
    """
    out = Gathered()
    service, namespace, port = path.destination()
    fqdn = f"{service}.{namespace}.svc.cluster.local" if service and namespace else None
    cluster = ctx.cluster

    def dump() -> None:
        if fqdn and port and pod.has_sidecar:
            out.dump = fetch_clusters_config_dump(cluster, pod.namespace, pod.name, fqdn, port, timeout=10)
            out.cluster_info = find_cluster(parse_clusters(out.dump), fqdn, port)

    def after_probe() -> None:
        if logs_after is not None:
            wait([logs_after])  # bounded: the probe's exec has its own deadline

    def client_log() -> None:
        after_probe()
        if pod.has_sidecar:
            out.client_log = cluster.logs(pod.namespace, pod.name, SIDECAR, since_seconds=LOG_WINDOW_S)

    def server_log() -> None:
        after_probe()
        logs = [
            cluster.logs(p.namespace, p.name, SIDECAR, since_seconds=LOG_WINDOW_S)
            for p in _server_pods(cluster, path)
        ]
        out.server_log = "".join(logs) if logs else None

    def policy() -> None:
        if not (service and namespace and port):
            return
        objects, engine = ctx.policy.get()
        out.objects = objects
        out.policy = engine.check(pod.namespace, pod.name, fqdn, port)

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="gather") as pool:
        jobs: dict[str, Future[None]] = {
            "config_dump": pool.submit(dump),
            "client_log": pool.submit(client_log),
            "server_log": pool.submit(server_log),
            "policy": pool.submit(policy),
        }
        for stage, job in jobs.items():
            try:
                job.result()
            except (MeshproberError, OSError, ValueError, KeyError) as exc:
                out.notes.append(f"{stage}: {exc}")
                ctx.errors(stage)
    return out


def log_entry(text: str | None, request_id: str) -> AccessLogEntry | None:
    if not text:
        return None
    found = find_by_request_id(parse_log(text), request_id)
    return found[-1] if found else None
