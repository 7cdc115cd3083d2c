"""Cross-check evidence for a failed probe, fetched in parallel (part of a check).

The source sidecar's cluster for the target (filtered config dump), the access logs of the source
and destination istio-proxy containers, and the policy engine's view of the live resources. Each
piece is optional: a failure becomes a note and an error count, never an exception. The fetches can
start before the probe they explain has finished (`PendingGather`), so an on-demand probe does not
pay for them one after the other.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from agent.check.context import CheckContext
from agent.config import PathConfig
from agent.envoy.config_dump import find_cluster, parse_clusters
from agent.errors import MeshproberError
from agent.istio.mesh import SIDECAR_CONTAINER
from agent.kube.cluster import Cluster, PodInfo
from agent.kube.proxy import fetch_clusters_config_dump
from agent.results import Gathered

LOG_WINDOW_S = 120
MAX_SERVER_PODS = 3  # destination pods whose logs are read: enough to find the line, bounded


def _server_pods(cluster: Cluster, path: PathConfig) -> list[PodInfo]:
    service, namespace, _ = path.destination()
    if not service or not namespace:
        return []
    svc = next((s for s in cluster.list_services(namespace) if s.name == service), None)
    if svc is None or not svc.selector:
        return []
    selector = ",".join(f"{k}={v}" for k, v in sorted(svc.selector.items()))
    return [p for p in cluster.list_pods(namespace, selector) if p.has_sidecar][:MAX_SERVER_PODS]


class PendingGather:
    """Cross-check evidence being fetched: the config dump and the policy view start at once.

    `finish()` adds the access-log reads, which wait for `logs_after` (the confirming second probe)
    so they run after it, when the first probe's line has been flushed, and returns what was found.
    `abandon()` is for a probe that turned out healthy: nothing more is started or waited for.
    """

    def __init__(self, ctx: CheckContext, path: PathConfig, pod: PodInfo) -> None:
        self._ctx, self._path, self._pod = ctx, path, pod
        self._target = service_target(path)  # (FQDN, port) the dump and the policy view look up
        self._out = Gathered()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gather")
        self._jobs: dict[str, Future[None]] = {
            "config_dump": self._pool.submit(self._dump),
            "policy": self._pool.submit(self._policy),
        }

    def _dump(self) -> None:
        if self._target is not None and self._pod.has_sidecar:
            (fqdn, port), pod, out = self._target, self._pod, self._out
            out.dump = fetch_clusters_config_dump(
                self._ctx.cluster, pod.namespace, pod.name, fqdn, port, timeout=10
            )
            out.cluster_info = find_cluster(parse_clusters(out.dump), fqdn, port)

    def _policy(self) -> None:
        if self._target is not None:
            fqdn, port = self._target
            objects, engine = self._ctx.policy.get()
            self._out.objects = objects
            self._out.policy = engine.check(self._pod.namespace, self._pod.name, fqdn, port)

    def _client_log(self, logs_after: Future[Any] | None) -> None:
        if logs_after is not None:
            wait([logs_after])  # bounded: the probe's exec has its own deadline
        pod = self._pod
        if pod.has_sidecar:
            self._out.client_log = self._ctx.cluster.logs(
                pod.namespace, pod.name, SIDECAR_CONTAINER, since_seconds=LOG_WINDOW_S
            )

    def _server_log(self, logs_after: Future[Any] | None) -> None:
        if logs_after is not None:
            wait([logs_after])
        cluster = self._ctx.cluster
        logs = [
            cluster.logs(p.namespace, p.name, SIDECAR_CONTAINER, since_seconds=LOG_WINDOW_S)
            for p in _server_pods(cluster, self._path)
        ]
        self._out.server_log = "".join(logs) if logs else None

    def finish(self, logs_after: Future[Any] | None = None) -> Gathered:
        """Read the access logs (after `logs_after`), wait for every piece; failures become notes."""
        self._jobs["client_log"] = self._pool.submit(self._client_log, logs_after)
        self._jobs["server_log"] = self._pool.submit(self._server_log, logs_after)
        try:
            for stage, job in self._jobs.items():
                try:
                    job.result()
                except (MeshproberError, OSError, ValueError, KeyError) as exc:
                    self._out.notes.append(f"{stage}: {exc}")
                    self._ctx.errors(stage)
        finally:
            self._pool.shutdown(wait=False)
        return self._out

    def abandon(self) -> None:
        """Stop here: a fetch already running ends within its own exec deadline, unread."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def service_target(path: PathConfig) -> tuple[str, int] | None:
    """The target Service's cluster-local FQDN and port, when the URL names a Service (else None)."""
    service, namespace, port = path.destination()
    if not (service and namespace and port):
        return None
    return f"{service}.{namespace}.svc.cluster.local", port
