"""Reads of core/v1 objects for LiveCluster: pods, workloads' pods, services, endpoints, the mesh ConfigMap.

With watch caches enabled (`cache`, see agent.kube.caches), pods, services and endpoint slices are
read from them wherever they cover the namespace asked for; never a fresh LIST then.
Owns the namespace scope: with one, lists that would be cluster-wide are made per namespace instead
(`scope.list_each`), so namespaced RBAC suffices; without one, lists are cluster-wide. Every call goes
through `rest.Rest` (retries + mapping to agent.errors). No exec, logs or client construction here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from agent.errors import NotFound
from agent.kube import objects
from agent.kube.caches import ClusterCaches
from agent.kube.cluster import PodInfo, ServiceInfo
from agent.kube.fanout import settle
from agent.kube.raw_api import RawApi
from agent.kube.rest import Rest
from agent.kube.scope import ErrorCounter, list_each, normalize_scope
from agent.kube.slim import matches_selector

MESH_CONFIGMAP = "istio"
_KINDS = {"pods": "Pod", "services": "Service"}


class CoreReads:
    """Pods, services and endpoints of one cluster, optionally scoped to some namespaces."""

    def __init__(self, core: RawApi, rest: Rest, namespaces: Iterable[str] | None = None) -> None:
        self._core = core
        self._rest = rest
        self.scope: tuple[str, ...] | None = normalize_scope(namespaces)
        self.count_error: ErrorCounter = lambda stage: None
        self.cache: ClusterCaches | None = None

    def cached(self, plural: str, namespace: str | None) -> list[dict[str, Any]] | None:
        """Objects from the watch caches when `plural`'s have synced and cover `namespace`, else None.

        Each resource is read from its cache once that one has synced (the caches start one after
        another). A cluster-wide read during start-up waits for the sync (bounded, see
        ClusterCaches.await_synced) rather than list the whole cluster in one response."""
        cache = self.cache
        if cache is None or (namespace is None and cache.scope is not None):
            return None  # scoped caches never cover all namespaces: nothing to wait for
        ready = cache.await_synced(plural) if namespace is None else cache.synced_for(plural)
        if not ready or not cache.covers(namespace):
            return None
        return cache.items(plural, namespace)

    def set_scope(self, namespaces: Iterable[str] | None) -> None:
        self.scope = normalize_scope(namespaces)

    # --- pods ---------------------------------------------------------------------------------
    def list_pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[PodInfo]:
        selector = objects.validate_label_selector(label_selector) if label_selector else None
        items = self.list_raw("pods", namespace, label_selector=selector)
        return [objects.pod_from_dict(i) for i in items]

    def get_pod(self, namespace: str, name: str) -> PodInfo:
        objects.validate_name("namespace", namespace)
        objects.validate_name("pod", name)
        if self.cached("pods", namespace) is not None and self.cache is not None:
            found = self.cache.get("pods", namespace, name)
            if found is not None:
                return objects.pod_from_dict(found)
        doc = self._rest.json(f"pod {namespace}/{name}", self._core.read_namespaced_pod, name, namespace)
        return objects.pod_from_dict(doc)

    def workload_pods(self, namespace: str, workload: str) -> list[PodInfo]:
        """Pods by label selector (`k=v,...`), else by controller owner, else by `app=<workload>`.

        Ready pods come first. Raises NotFound when nothing matches, naming what was tried. Without
        caches, the namespace's pods and the `app=` fallback are listed at once (agent.kube.fanout).
        """
        if objects.is_label_selector(workload):
            pods = self.list_pods(namespace, workload)
            tried = f"label selector {workload}"
        else:
            objects.validate_name("workload", workload)
            by_label = f"app={workload}"
            if self.cached("pods", namespace) is not None:
                pods = objects.pods_of_workload(self.list_pods(namespace), workload)
                by_label_pods = None
            else:
                # Two requests: asked together, the fallback costs no second round trip when needed.
                all_pods, by_label_pods = settle(
                    [lambda: self.list_pods(namespace), lambda: self.list_pods(namespace, by_label)]
                )
                pods = objects.pods_of_workload(all_pods.result(), workload)
            if not pods:
                pods = (
                    by_label_pods.result()
                    if by_label_pods is not None
                    else self.list_pods(namespace, by_label)
                )
            tried = f"owner Deployment/StatefulSet/DaemonSet/ReplicaSet {workload!r} or label app={workload}"
        if not pods:
            raise NotFound(f"no pods for workload {namespace}/{workload} (tried {tried})")
        return objects.ready_first(pods)

    # --- services -----------------------------------------------------------------------------
    def list_services(self, namespace: str | None = None) -> list[ServiceInfo]:
        """Services in a namespace; None: all namespaces, or each scoped namespace when scoped."""
        return [objects.service_from_dict(i) for i in self.list_raw("services", namespace)]

    def service_endpoints(self, namespace: str, service: str) -> list[objects.Endpoint]:
        """Addresses behind a Service (core/v1 Endpoints; falls back to discovery/v1 EndpointSlices)."""
        objects.validate_name("service", service)
        what = f"endpoints of service {namespace}/{service}"
        slices = self.cached("endpointslices", namespace)
        if slices is not None:
            mine = [
                s
                for s in slices
                if matches_selector(
                    s["metadata"].get("labels") or {}, f"kubernetes.io/service-name={service}"
                )
            ]
            if mine:
                return [e for s in mine for e in objects.endpoints_from_slice(s)]
        try:
            doc = self._rest.json(what, self._core.read_namespaced_endpoints, service, namespace)
            return objects.endpoints_from_dict(doc)
        except NotFound:
            lst = self._rest.json(
                what,
                self._core.list_namespaced_endpoint_slice,
                namespace,
                label_selector=f"kubernetes.io/service-name={service}",
            )
            return [e for s in lst.get("items") or [] for e in objects.endpoints_from_slice(s)]

    # --- mesh config --------------------------------------------------------------------------
    def mesh_configmap(self, root_namespace: str) -> dict[str, Any] | None:
        """The `istio` ConfigMap in the mesh root namespace, or None when absent."""
        try:
            doc = self._rest.json(
                f"configmap {root_namespace}/{MESH_CONFIGMAP}",
                self._core.read_namespaced_config_map,
                MESH_CONFIGMAP,
                root_namespace,
            )
        except NotFound:
            return None
        doc.setdefault("apiVersion", "v1")
        doc.setdefault("kind", "ConfigMap")
        return dict(doc)

    # --- raw lists (the policy view wants manifests, not PodInfo) -------------------------------
    def list_raw(
        self, plural: str, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Manifests of `pods` or `services`: in `namespace`, else in the scope, else cluster-wide."""
        kind = _KINDS[plural]
        if namespace:
            objects.validate_name("namespace", namespace)
        cached = self.cached(plural, namespace or None)
        if cached is not None:
            return [o for o in cached if matches_selector(o["metadata"].get("labels") or {}, label_selector)]
        kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        if not namespace and self.scope is not None:
            # All-namespace services are listed for service discovery (the `discovery:` rules).
            stage = "discovery" if plural == "services" else "policy"
            return self.list_scoped(plural, stage, label_selector)
        if namespace:
            objects.validate_name("namespace", namespace)
            method = getattr(self._core, f"list_namespaced_{kind.lower()}")
            doc = self._rest.json(f"list {plural} in namespace {namespace}", method, namespace, **kwargs)
        else:
            method = getattr(self._core, f"list_{kind.lower()}_for_all_namespaces")
            doc = self._rest.json(f"list {plural} in all namespaces", method, **kwargs)
        items = [i for i in doc.get("items") or [] if isinstance(i, dict)]
        for item in items:  # list items come without kind/apiVersion; the policy loader wants them
            item.setdefault("apiVersion", "v1")
            item.setdefault("kind", kind)
        return items

    def list_scoped(self, plural: str, stage: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        """One list per scoped namespace; a forbidden namespace is skipped and counted under `stage`."""
        scope: Sequence[str] = self.scope or ()

        def one(namespace: str) -> list[dict[str, Any]]:
            return self.list_raw(plural, namespace, label_selector)

        what = f"list {plural} in scope"
        return list_each(scope, one, what=what, stage=stage, on_error=self.count_error)
