"""LiveCluster: the Cluster protocol over the official `kubernetes` client (REST + exec websocket).

Each instance owns its own Configuration/ApiClient (never the process-wide default), built from a
kubeconfig or the in-cluster service account by `live_config`. The work is done by small parts:
`core_reads` (pods, services, endpoints, the mesh ConfigMap; the namespace scope), `policy_list` (the
Istio CRs), `logs_exec` (logs and exec). REST calls go through `rest.Rest` (retries + error mapping),
so every client exception leaves this package as an agent.errors exception.

With a namespace scope (`namespaces=` or `set_scope`), lists that would be cluster-wide (all-namespace
pods and services, the policy objects) are made per namespace instead, so namespaced RBAC suffices;
without one, lists are cluster-wide. Use as a context manager (or call close()) to release the client.

`enable_caches()` (the long-running agent) starts list+watch caches (agent.kube.caches); from then
on pods, services, endpoint slices and the Istio policy objects are read from them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from kubernetes import client

from agent.errors import Forbidden, NotFound
from agent.istio.control_plane import ControlPlane, Gap, MeshOverrides
from agent.kube import objects
from agent.kube.cached_core import CachedCore
from agent.kube.cluster import Cluster, ExecResult, LogFollowCluster, LogStream, PodInfo, ServiceInfo
from agent.kube.control_plane_reads import list_telemetries, list_virtual_services, read_control_plane
from agent.kube.core_reads import MESH_CONFIGMAP, CoreReads
from agent.kube.ephemeral_api import EphemeralCalls
from agent.kube.fanout import settle
from agent.kube.live_config import incluster_configuration, kubeconfig_configuration, running_in_cluster
from agent.kube.logs_exec import LogsAndExec
from agent.kube.policy_list import list_istio_policy
from agent.kube.raw_api import RawApi
from agent.kube.rest import Rest
from agent.kube.scope import ErrorCounter, with_root
from agent.kube.watch_cache import CacheStats

# list_telemetries / list_virtual_services: (rest, core, gaps, namespaces) -> items
OptionalList = Callable[[Rest, RawApi, list[Gap], Sequence[str] | None], list[dict[str, Any]]]

__all__ = ["MESH_CONFIGMAP", "LiveCluster"]


class LiveCluster:
    """Read-mostly access to one real cluster; see agent.kube.cluster.Cluster."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str = "default",
        root_namespace: str = "istio-system",
        namespaces: Iterable[str] | None = None,
    ) -> None:
        self._api = api_client
        self._core = RawApi(api_client)  # not client.CoreV1Api: 2+ s of import (see raw_api)
        self.server: str = str(api_client.configuration.host)
        self._rest = Rest(self.server)
        self.namespace = namespace
        self.root_namespace = root_namespace
        self._reads = CoreReads(self._core, self._rest, namespaces)
        self._prefetch_lock = threading.Lock()
        self._prefetched: dict[tuple[str, str], Future[list[PodInfo]]] = {}
        self._pods = LogsAndExec(api_client, self._core, self._rest, self._reads.get_pod)
        # The agent config's `mesh:` block; the control plane last discovered by list_policy_objects.
        self.mesh_overrides = MeshOverrides()
        self.last_control_plane: ControlPlane | None = None
        self.on_control_plane: Callable[[ControlPlane], None] = lambda plane: None  # e.g. the agent's store
        self._ephemeral = EphemeralCalls(self._core, self._rest)

    # --- construction and lifetime ------------------------------------------------------------
    @classmethod
    def from_kubeconfig(
        cls, path: str | None = None, context: str | None = None, namespace: str | None = None
    ) -> LiveCluster:
        cfg, ctx_namespace = kubeconfig_configuration(path, context)
        return cls(client.ApiClient(configuration=cfg), namespace=namespace or ctx_namespace or "default")

    @classmethod
    def in_cluster(
        cls,
        *,
        token_path: str | None = None,
        ca_path: str | None = None,
        namespace_path: str | None = None,
        environ: dict[str, str] | None = None,
    ) -> LiveCluster:
        cfg, namespace = incluster_configuration(token_path, ca_path, namespace_path, environ)
        return cls(client.ApiClient(configuration=cfg), namespace=namespace)

    @classmethod
    def auto(
        cls, path: str | None = None, context: str | None = None, namespace: str | None = None
    ) -> LiveCluster:
        """In-cluster config when running in a pod (and no kubeconfig was named), else the kubeconfig."""
        if path is None and context is None and running_in_cluster():
            live = cls.in_cluster()
            if namespace:
                live.namespace = namespace
            return live
        return cls.from_kubeconfig(path, context, namespace)

    def close(self) -> None:
        """Stop the caches and release the client's connections; safe to call more than once."""
        if self._reads.cache is not None:
            self._reads.cache.stop()
            self._reads.cache = None
        self._api.close()

    # --- watch caches ---------------------------------------------------------------------------
    def enable_caches(
        self, wait: float = 30.0, watch_timeout: int | None = None, page_size: int | None = None
    ) -> bool:
        """Start list+watch caches for the current scope; True once all synced within `wait` s.
        Until they are synced, reads fall back to direct requests. Call after set_scope."""
        from agent.kube.caches import ClusterCaches
        from agent.kube.policy_list import served_versions

        if self._reads.cache is not None:
            return self._reads.cache.wait_synced(wait)
        try:
            served: dict[str, list[str]] | None = served_versions(self._rest, self._core)
        except NotFound:
            served = None
        caches = ClusterCaches(
            self._core,
            served,
            self._reads.scope,
            self.root_namespace,
            watch_timeout=watch_timeout,
            page_size=page_size,
        )
        self._reads.cache = caches
        caches.start()
        return caches.wait_synced(wait)

    def cache_health(self) -> dict[str, CacheStats]:
        """Per cached resource: synced, last sync, lists, relists, watch restarts ({} without caches)."""
        return self._reads.cache.health() if self._reads.cache is not None else {}

    def policy_generation(self) -> int | None:
        """Changes whenever a cached object changes; None without synced caches (re-list by TTL)."""
        cache = self._reads.cache
        return cache.generation if cache is not None and cache.synced else None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- scope --------------------------------------------------------------------------------
    @property
    def scope(self) -> tuple[str, ...] | None:
        """The namespaces lists are limited to; None: cluster-wide."""
        return self._reads.scope

    def set_scope(self, namespaces: Iterable[str] | None) -> None:
        """List only in these namespaces (+ the mesh root namespace for policy); None: cluster-wide."""
        self._reads.set_scope(namespaces)

    def set_error_counter(self, count: ErrorCounter) -> None:
        """Where a namespace skipped in a scoped list is counted (e.g. meshprober_errors_total)."""
        self._reads.count_error = count

    # --- pods and services (core_reads) -------------------------------------------------------
    def list_pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[PodInfo]:
        return self._reads.list_pods(namespace, label_selector)

    def get_pod(self, namespace: str, name: str) -> PodInfo:
        return self._reads.get_pod(namespace, name)

    def workload_pods(self, namespace: str, workload: str) -> list[PodInfo]:
        """Pods by label selector, else by controller owner, else by `app=<workload>`; ready first."""
        with self._prefetch_lock:
            ahead = self._prefetched.pop((namespace, workload), None)
        if ahead is not None:
            return ahead.result()  # its error, if it failed, is raised here as a direct call's would be
        return self._reads.workload_pods(namespace, workload)

    def prefetch_workload_pods(self, namespace: str, workload: str) -> None:
        """Start the next `workload_pods(namespace, workload)` now, on a thread: a one-shot command
        sends its first request while it is still importing the pipeline. Used once, then dropped."""
        future: Future[list[PodInfo]] = Future()

        def run() -> None:
            try:
                future.set_result(self._reads.workload_pods(namespace, workload))
            except Exception as exc:  # handed to the caller of workload_pods, as a direct call's would be
                future.set_exception(exc)

        with self._prefetch_lock:
            self._prefetched[(namespace, workload)] = future
        threading.Thread(target=run, name="prefetch-pods", daemon=True).start()

    def list_services(self, namespace: str | None = None) -> list[ServiceInfo]:
        """Services in a namespace; None: all namespaces, or each scoped namespace when scoped."""
        return self._reads.list_services(namespace)

    def service_endpoints(self, namespace: str, service: str) -> list[objects.Endpoint]:
        """Addresses behind a Service (core/v1 Endpoints; falls back to discovery/v1 EndpointSlices)."""
        return self._reads.service_endpoints(namespace, service)

    def mesh_configmap(self) -> dict[str, Any] | None:
        """The `istio` ConfigMap in the mesh root namespace, or None when absent."""
        return self._reads.mesh_configmap(self.root_namespace)

    # --- Istio policy -------------------------------------------------------------------------
    def control_plane(
        self, source_labels: dict[str, str] | None = None, source_annotations: dict[str, str] | None = None
    ) -> tuple[ControlPlane, dict[str, Any] | None]:
        """istiod's namespace and revision, its mesh ConfigMap and settings (agent.istio.control_plane);
        objects that could not be read are listed as gaps, never raised."""
        cache = self._reads.cache
        core: Any = self._core if cache is None else CachedCore(self._core, cache)  # istiod pods: cached
        return read_control_plane(self._rest, core, self.mesh_overrides, source_labels, source_annotations)

    def list_policy_objects(self) -> list[dict[str, Any]]:
        """Cluster-wide; when scoped, DRs/PAs in the scope + root namespace, Services/Pods in the scope.

        Also the discovered mesh ConfigMap (`istio-<rev>` or `istio` in istiod's namespace) and the
        Telemetry resources; what could not be read is in `last_control_plane.gaps`.

        The reads are independent and issued at once (agent.kube.fanout): at 100 ms per request the
        view costs the longest chain (istiod pods, then its ConfigMap) instead of the sum. Only a
        scoped view waits for the control plane first: its policy namespaces include the root one."""
        scope = self._reads.scope
        if scope is None:
            plane_read, *rest = settle([self.control_plane, *self._policy_reads(None)])
            plane, mesh = plane_read.result()
        else:
            plane, mesh = self.control_plane()
            rest = settle(self._policy_reads(with_root(scope, plane.root_namespace)))
        policy, telemetries, virtual_services, services, pods = rest
        # Raised in the order a sequential read would have met them.
        out: list[dict[str, Any]] = list(policy.result())
        if mesh is not None:
            out.append(mesh)
        tel_items, tel_gaps = telemetries.result()
        vs_items, vs_gaps = virtual_services.result()
        out.extend(tel_items)
        out.extend(vs_items)
        self.last_control_plane = replace(plane, gaps=(*plane.gaps, *tel_gaps, *vs_gaps))
        self.on_control_plane(self.last_control_plane)
        out.extend(services.result())
        out.extend(pods.result())
        return out

    def _policy_reads(self, policy_namespaces: tuple[str, ...] | None) -> list[Callable[[], Any]]:
        """The policy view's reads besides the control plane: DRs/PAs, (Telemetry, VirtualService
        with their gaps), Services, Pods; from the watch caches where they are synced."""
        cache, reads, core, rest = self._reads.cache, self._reads, self._core, self._rest
        synced = cache is not None and cache.synced

        def policy() -> list[dict[str, Any]]:
            if cache is not None and synced and cache.policy_ok:  # DRs, PAs (+ legacy) cached
                return cache.policy_objects()
            return list_istio_policy(rest, core, policy_namespaces, reads.count_error)

        def optional(
            plural: str, fetch: OptionalList
        ) -> Callable[[], tuple[list[dict[str, Any]], list[Gap]]]:
            def read() -> tuple[list[dict[str, Any]], list[Gap]]:
                if cache is not None and synced:  # Telemetry, VirtualService: cached when served
                    return cache.items(plural), []
                gaps: list[Gap] = []
                return fetch(rest, core, gaps, policy_namespaces), gaps

            return read

        def manifests(plural: str) -> Callable[[], list[dict[str, Any]]]:
            if reads.scope is None:
                return lambda: reads.list_raw(plural, None)
            return lambda: reads.list_scoped(plural, "policy")

        return [
            policy,
            optional("telemetries", list_telemetries),
            optional("virtualservices", list_virtual_services),
            manifests("services"),
            manifests("pods"),
        ]

    # --- logs, exec (logs_exec), ping ---------------------------------------------------------
    def logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        return self._pods.logs(namespace, pod, container, since_seconds, limit_bytes)

    def follow_logs(
        self, namespace: str, pod: str, container: str, since_seconds: int, limit_bytes: int
    ) -> LogStream:
        return self._pods.follow(namespace, pod, container, since_seconds, limit_bytes)

    def exec(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float
    ) -> ExecResult:
        return self._pods.exec(namespace, pod, container, argv, timeout)

    # --- ephemeral probe containers (agent.kube.ephemeral drives these) ----------------------
    def pod_json(self, namespace: str, name: str) -> dict[str, Any]:
        return self._ephemeral.pod_json(namespace, name)

    def patch_ephemeral_containers(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return self._ephemeral.patch_ephemeral_containers(namespace, name, patch)

    def can_i(self, namespace: str, verb: str, resource: str, subresource: str = "") -> bool:
        return self._ephemeral.can_i(namespace, verb, resource, subresource)

    def ping(self) -> None:
        """Raise ClusterUnreachable (after retries) or Unauthorized; any other answer means it is up."""
        # NotFound/Forbidden: the server answered; a trimmed-down server may not serve /version/.
        with contextlib.suppress(NotFound, Forbidden):
            self._rest.raw("API server version (/version)", self._core.get_code)


if TYPE_CHECKING:  # mypy proves LiveCluster satisfies the Cluster protocol

    def _conforms(live: LiveCluster) -> Cluster:
        return live

    def _follows(live: LiveCluster) -> LogFollowCluster:
        return live
