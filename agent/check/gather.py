"""Cross-check evidence for a failed probe, fetched in parallel (part of the pipeline).

The source sidecar's cluster for the target (filtered config dump), the access logs of the source
and destination istio-proxy containers, and the policy engine's view of the live resources. Each
piece is optional: a failure becomes a note and an error count, never an exception. The fetches can
start before the probe they explain has finished (`PendingGather`), so an on-demand probe does not
pay for them one after the other. Where the cluster can follow a log (LogFollowCluster), the
istio-proxy logs are followed from the start, and each read ends as soon as the probe's request ids
are in it, or once Envoy's flush interval has passed since the probe ended; otherwise each log is
read once, after that interval.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

from agent.check import mesh_facts as mesh
from agent.check.context import CheckContext
from agent.config import PathConfig
from agent.diagnose.log_match import match_entry
from agent.envoy.config_dump import parse_clusters, parse_endpoint_modes
from agent.errors import MeshproberError
from agent.evidence import AccessLogEntry, TlsOrigination
from agent.istio.control_plane import ControlPlane, revision_of_pod
from agent.istio.mesh import SIDECAR_CONTAINER
from agent.istio.routing import route
from agent.kube.cluster import Cluster, LogFollowCluster, LogStream, PodInfo
from agent.kube.proxy import fetch_clusters_config_dump, fetch_endpoints_config_dump
from agent.results import Gathered

MAX_SERVER_PODS = 3  # destination pods whose logs are read: enough to find the line, bounded


def _server_selector(cluster: Cluster, path: PathConfig) -> str | None:
    """The label selector of the target Service's pods (None: no Service, or one without a selector)."""
    service, namespace, _ = path.destination()
    if not service or not namespace:
        return None
    svc = next((s for s in cluster.list_services(namespace) if s.name == service), None)
    if svc is None or not svc.selector:
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(svc.selector.items()))


def _server_pods(cluster: Cluster, path: PathConfig, selector: str | None) -> list[PodInfo]:
    _, namespace, _ = path.destination()
    if selector is None or not namespace:
        return []
    return [p for p in cluster.list_pods(namespace, selector) if p.has_sidecar][:MAX_SERVER_PODS]


class PendingGather:
    """Cross-check evidence being fetched: the config dump, the policy view and (where the cluster
    can follow logs) the istio-proxy log streams start at once.

    `finish()` adds the access-log reads, which wait for `logs_after` (the confirming second probe)
    so they run after it, when the first probe's line has been flushed, and returns what was found.
    `abandon()` is for a probe that turned out healthy: nothing more is started or waited for.
    """

    def __init__(self, ctx: CheckContext, path: PathConfig, pod: PodInfo, *, waiting: bool = False) -> None:
        """`waiting`: a user waits on this check, so a server's followed log that cannot hold the
        request's line (see _server_wait_slack) is waited for only mesh_facts.STREAM_SLACK_S past
        the flush interval."""
        self._ctx, self._path, self._pod = ctx, path, pod
        self._waiting = waiting
        self._target = service_target(path)  # (FQDN, port) the dump and the policy view look up
        self._started = time.time()
        self._ended = time.monotonic()  # the first probe's end, set by finish()
        self._request_ids: tuple[str, ...] = ()
        self._out = Gathered()
        self._streams: dict[tuple[str, str], LogStream] = {}
        self._streams_lock = threading.Lock()
        self._abandoned = False
        self._client_done = threading.Event()  # the client's log read (or its absence) is settled
        self._client_entry: AccessLogEntry | None = None
        self._pool = ThreadPoolExecutor(max_workers=7, thread_name_prefix="gather")
        # Looked up once: the log streams and the after-failure pod listing both need it. Its failure
        # shows where it is used (not a job of its own).
        self._selector = self._pool.submit(_server_selector, ctx.cluster, path)
        self._jobs: dict[str, Future[None]] = {
            "config_dump": self._pool.submit(self._dump),
            "policy": self._pool.submit(self._policy),
        }
        if isinstance(ctx.cluster, LogFollowCluster):
            self._jobs["log_streams"] = self._pool.submit(self._follow, ctx.cluster)

    def _dump(self) -> None:
        if self._target is not None and self._pod.has_sidecar:
            (fqdn, port), pod, out = self._target, self._pod, self._out
            # Every subset's cluster (`outbound|PORT|*|HOST`): the access log says which one was used.
            out.dump = fetch_clusters_config_dump(
                self._ctx.cluster, pod.namespace, pod.name, fqdn, port, subset="*", timeout=10
            )
            out.clusters = clusters = parse_clusters(out.dump)
            if any(c.tls is TlsOrigination.AUTO or c.hbone for c in clusters):
                # Auto mTLS / HBONE pick the socket per endpoint, from its EDS metadata.
                eds = fetch_endpoints_config_dump(
                    self._ctx.cluster, pod.namespace, pod.name, fqdn, port, timeout=10
                )
                if eds is not None:
                    out.clusters = clusters = mesh.with_endpoint_modes(clusters, parse_endpoint_modes(eds))
            out.cluster_info, _ = mesh.choose_cluster(clusters, fqdn, port, None)

    def _policy(self) -> None:
        if self._target is not None:
            fqdn, port = self._target
            objects, engine = self._ctx.policy.get()
            self._out.objects = objects
            self._out.control_plane = self._source_plane(
                getattr(self._ctx.cluster, "last_control_plane", None)
            )
            self._out.policy = engine.check(self._pod.namespace, self._pod.name, fqdn, port)

    def _source_plane(self, plane: ControlPlane | None) -> ControlPlane | None:
        """The control plane of the revision that injected the source pod, when it is not the one the
        policy view was read from (a canary revision): its mesh config decides logging."""
        pod = self._pod
        discover = getattr(self._ctx.cluster, "control_plane", None)
        if plane is None or discover is None:
            return plane
        rev = revision_of_pod(pod.labels, pod.annotations)
        if rev is None or rev == plane.revision:
            return plane  # the pod names no other revision: no extra read
        own, _ = discover(dict(pod.labels), dict(pod.annotations))
        if own.revision != plane.revision:
            self._out.notes.append(
                f"source pod {pod.namespace}/{pod.name} was injected by revision {own.revision or 'default'}; "
                f"the policy view uses the mesh config of revision {plane.revision or 'default'}"
            )
        return own

    def _logging(self, pod: PodInfo, side: str) -> bool:
        """Whether to read this sidecar's log (the policy view must be in: it holds the mesh config)."""
        # A failure is reported by finish(); the mesh config is then unknown.
        with contextlib.suppress(MeshproberError, OSError, ValueError, KeyError):
            self._jobs["policy"].result()
        decision = mesh.logging_decision(
            self._out.objects, self._out.control_plane, pod, "CLIENT" if side == "client" else "SERVER"
        )
        if decision is None:  # unknown: read, but a missing line proves nothing
            self._out.logging_unknown[side] = (
                f"{pod.namespace}/{pod.name}: {mesh.unknown_why(self._out.control_plane)}"
            )
            return True
        if not decision.on:
            self._out.logging_off[side] = f"{pod.namespace}/{pod.name}: {decision.why}"
            return False
        if side == "server":
            self._out.server_logging_on = not decision.filtered
        return True

    def _follow(self, cluster: LogFollowCluster) -> None:
        """Start following the client's and the servers' istio-proxy logs (before the probe ends)."""
        pods = [self._pod] if self._pod.has_sidecar else []
        pods += _server_pods(self._ctx.cluster, self._path, self._selector.result())
        since = mesh.log_since(self._started, time.time())
        for pod in pods:
            key = (pod.namespace, pod.name)
            with self._streams_lock:
                if key in self._streams or self._abandoned:
                    continue
                self._streams[key] = cluster.follow_logs(
                    pod.namespace, pod.name, SIDECAR_CONTAINER, since, mesh.LOG_LIMIT_BYTES
                )

    def _stream_of(self, pod: PodInfo) -> LogStream | None:
        job = self._jobs.get("log_streams")
        if job is None:
            return None
        with contextlib.suppress(MeshproberError, OSError, ValueError, KeyError):
            job.result()  # a failure to list the servers is reported by finish(); GETs then
        with self._streams_lock:
            return self._streams.pop((pod.namespace, pod.name), None)

    def _close_streams(self) -> None:
        with self._streams_lock:
            streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            with contextlib.suppress(MeshproberError):
                stream.close()

    def _read_log(self, pod: PodInfo, slack: float = mesh.FLUSH_SLACK_S) -> str:
        """Only the probe's window, bounded in bytes, once Envoy has flushed the line: from the
        followed log as soon as the request ids are in it (else at the flush deadline), or read
        once after the flush interval."""
        deadline = mesh.log_deadline(self._ended, self._flush_interval(), slack)
        stream = self._stream_of(pod)
        if stream is not None:
            try:
                stream.wait_for(self._request_ids, deadline)
            finally:
                text = stream.close()
            return text
        time.sleep(max(0.0, deadline - time.monotonic()))
        return self._ctx.cluster.logs(
            pod.namespace,
            pod.name,
            SIDECAR_CONTAINER,
            since_seconds=mesh.log_since(self._started, time.time()),
            limit_bytes=mesh.LOG_LIMIT_BYTES,
        )

    def _client_log(self, logs_after: Future[Any] | None) -> None:
        try:
            if logs_after is not None:
                wait([logs_after])  # bounded: the probe's exec has its own deadline
            pod = self._pod
            if pod.has_sidecar and self._logging(pod, "client"):
                self._out.client_log = self._read_log(pod)
                # The probe's own line (by request id): it picks the cluster and the server's wait.
                first = self._request_ids[0] if self._request_ids else None
                self._client_entry, _ = match_entry(self._out.client_log, first)
        finally:
            self._client_done.set()

    def _server_wait_slack(self) -> float:
        """How long past the flush interval a server's followed log is waited for: short when a user
        is waiting and the client's own line says the server's sidecar never answered it over HTTP
        (mesh_facts.server_may_have_logged), so it cannot hold the request's line."""
        if not self._waiting:
            return mesh.FLUSH_SLACK_S
        # Bounded: the client's read ends at its own deadline (plus a second for its close).
        self._client_done.wait(
            mesh.log_deadline(self._ended, self._flush_interval()) - time.monotonic() + 1.0
        )
        return mesh.FLUSH_SLACK_S if mesh.server_may_have_logged(self._client_entry) else mesh.STREAM_SLACK_S

    def _flush_interval(self) -> float:
        """Envoy's access-log flush interval from the mesh config in the policy view (else 1 s)."""
        plane = self._out.control_plane
        return mesh.flush_interval(plane.mesh if plane is not None else None)

    def _server_log(self, logs_after: Future[Any] | None) -> None:
        if logs_after is not None:
            wait([logs_after])
        # Listed (again) after the failure: their current status, for the sidecar-health check.
        pods = _server_pods(self._ctx.cluster, self._path, self._selector.result())
        self._out.server_trouble = mesh.sidecar_troubles(pods, self._started)
        read = [p for p in pods if self._logging(p, "server")]
        slack = self._server_wait_slack() if read else mesh.FLUSH_SLACK_S
        logs = [self._read_log(p, slack) for p in read]
        self._out.server_log = "".join(logs) if logs else None

    def finish(
        self,
        logs_after: Future[Any] | None = None,
        request_id: str | None = None,
        also: tuple[str, ...] = (),
    ) -> Gathered:
        """Read the access logs (after `logs_after`), wait for every piece; failures become notes.

        With `request_id`, the cluster the request used is the one its client log line names (a
        subset cluster when a VirtualService routed there), and the policy view is for that subset.
        `also`: the request ids of probes already made beside it (the confirming transfer), whose
        lines a followed log waits for too."""
        self._ended = time.monotonic()
        self._request_ids = tuple(i for i in (request_id, *also) if i)
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
            self._close_streams()
        self._pick_cluster(request_id)
        return self._out

    def _pick_cluster(self, request_id: str | None) -> None:
        out = self._out
        if self._target is None or not out.clusters:
            return
        fqdn, port = self._target
        entry = self._client_entry if request_id else None  # matched by _client_log
        pod = self._pod
        url_path = urlsplit(self._path.to.target_url).path or "/"
        out.routed = routed = route(out.objects, pod.namespace, pod.labels, fqdn, port, url_path)
        out.cluster_info, note = mesh.choose_cluster(out.clusters, fqdn, port, entry, routed)
        if note:
            out.notes.append(note)
        subset = out.cluster_info.subset if out.cluster_info is not None else None
        if subset is not None and out.policy is not None:
            try:
                _, engine = self._ctx.policy.get()
                out.policy = engine.check(self._pod.namespace, self._pod.name, fqdn, port, subset)
            except (MeshproberError, ValueError, KeyError) as exc:
                out.notes.append(f"policy for subset {subset}: {exc}")

    def abandon(self) -> None:
        """Stop here: a fetch already running ends within its own exec deadline, unread; log
        streams are closed (one opened after this is closed by its own bound)."""
        with self._streams_lock:
            self._abandoned = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._close_streams()


def service_target(path: PathConfig) -> tuple[str, int] | None:
    """The target Service's cluster-local FQDN and port, when the URL names a Service (else None).

    The policy engine's canonical `cluster.local` form; the sidecar's cluster is matched by
    `<svc>.<ns>.svc.` whatever the cluster domain (config_dump.find_cluster, any-domain regex)."""
    service, namespace, port = path.destination()
    if not (service and namespace and port):
        return None
    return f"{service}.{namespace}.svc.cluster.local", port
