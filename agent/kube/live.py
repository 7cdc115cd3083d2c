"""LiveCluster: the Cluster protocol over the official `kubernetes` client (REST + exec websocket).

Each instance owns its own Configuration/ApiClient (never the process-wide default). REST calls read
raw JSON through `rest.Rest` (retries + error mapping); exec lives in `exec_call`, the Istio CR
listing in `policy_list`. Every client exception leaves this package as an agent.errors exception.

With a namespace scope (`namespaces=` or `set_scope`), lists that would be cluster-wide (all-namespace
pods and services, the policy objects) are made per namespace instead (`scope`), so namespaced RBAC
suffices; without one, behaviour is unchanged (cluster-wide lists).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kubernetes import client

from agent.errors import (
    ClusterError,
    ContainerNotFound,
    Forbidden,
    InputError,
    NotFound,
    PodNotReady,
)
from agent.kube import objects
from agent.kube.cluster import Cluster, ExecResult, PodInfo, ServiceInfo
from agent.kube.exec_call import exec_in_pod
from agent.kube.live_config import (
    incluster_configuration,
    kubeconfig_configuration,
    running_in_cluster,
)
from agent.kube.policy_list import list_istio_policy
from agent.kube.raw_api import RawApi
from agent.kube.rest import Rest
from agent.kube.scope import ErrorCounter, list_each, normalize_scope, with_root

MESH_CONFIGMAP = "istio"


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
        self.scope: tuple[str, ...] | None = normalize_scope(namespaces)
        self._count_error: ErrorCounter = lambda stage: None

    def set_scope(self, namespaces: Iterable[str] | None) -> None:
        """List only in these namespaces (+ the mesh root namespace for policy); None: cluster-wide."""
        self.scope = normalize_scope(namespaces)

    def set_error_counter(self, count: ErrorCounter) -> None:
        """Where a namespace skipped in a scoped list is counted (e.g. meshprober_errors_total)."""
        self._count_error = count

    # --- construction -------------------------------------------------------------------------
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
        self._api.close()

    # --- pods and services --------------------------------------------------------------------
    def list_pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[PodInfo]:
        selector = objects.validate_label_selector(label_selector) if label_selector else None
        items = self._list_raw("pods", namespace, label_selector=selector)
        return [objects.pod_from_dict(i) for i in items]

    def get_pod(self, namespace: str, name: str) -> PodInfo:
        objects.validate_name("namespace", namespace)
        objects.validate_name("pod", name)
        doc = self._rest.json(f"pod {namespace}/{name}", self._core.read_namespaced_pod, name, namespace)
        return objects.pod_from_dict(doc)

    def workload_pods(self, namespace: str, workload: str) -> list[PodInfo]:
        """Pods by label selector (`k=v,...`), else by controller owner, else by `app=<workload>`.

        Ready pods come first. Raises NotFound when nothing matches, naming what was tried.
        """
        if objects.is_label_selector(workload):
            pods = self.list_pods(namespace, workload)
            tried = f"label selector {workload}"
        else:
            objects.validate_name("workload", workload)
            pods = objects.pods_of_workload(self.list_pods(namespace), workload)
            if not pods:
                pods = self.list_pods(namespace, f"app={workload}")
            tried = f"owner Deployment/StatefulSet/DaemonSet/ReplicaSet {workload!r} or label app={workload}"
        if not pods:
            raise NotFound(f"no pods for workload {namespace}/{workload} (tried {tried})")
        return objects.ready_first(pods)

    def list_services(self, namespace: str | None = None) -> list[ServiceInfo]:
        """Services in a namespace; None: all namespaces, or each scoped namespace when scoped."""
        return [objects.service_from_dict(i) for i in self._list_raw("services", namespace)]

    def service_endpoints(self, namespace: str, service: str) -> list[objects.Endpoint]:
        """Addresses behind a Service (core/v1 Endpoints; falls back to discovery/v1 EndpointSlices)."""
        objects.validate_name("service", service)
        what = f"endpoints of service {namespace}/{service}"
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

    def _list_raw(
        self, plural: str, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        kind = {"pods": "Pod", "services": "Service"}[plural]
        kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        if not namespace and self.scope is not None:
            # All-namespace services are listed for service discovery (the `discovery:` rules).
            stage = "discovery" if plural == "services" else "policy"
            return self._list_scoped(self.scope, plural, stage, label_selector)
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

    def _list_scoped(
        self, scope: Sequence[str], plural: str, stage: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """One list per scoped namespace; a forbidden namespace is skipped and counted under `stage`."""

        def one(namespace: str) -> list[dict[str, Any]]:
            return self._list_raw(plural, namespace, label_selector)

        what = f"list {plural} in scope"
        return list_each(scope, one, what=what, stage=stage, on_error=self._count_error)

    # --- Istio policy -------------------------------------------------------------------------
    def list_policy_objects(self) -> list[dict[str, Any]]:
        """Cluster-wide; when scoped, DRs/PAs in the scope + root namespace, Services/Pods in the scope."""
        policy_namespaces = None if self.scope is None else with_root(self.scope, self.root_namespace)
        out = list_istio_policy(self._rest, self._api, policy_namespaces, self._count_error)
        mesh = self.mesh_configmap()
        if mesh is not None:
            out.append(mesh)
        if self.scope is None:
            out.extend(self._list_raw("services", None))
            out.extend(self._list_raw("pods", None))
            return out
        out.extend(self._list_scoped(self.scope, "services", "policy"))
        out.extend(self._list_scoped(self.scope, "pods", "policy"))
        return out

    def mesh_configmap(self) -> dict[str, Any] | None:
        """The `istio` ConfigMap in the mesh root namespace, or None when absent."""
        try:
            doc = self._rest.json(
                f"configmap {self.root_namespace}/{MESH_CONFIGMAP}",
                self._core.read_namespaced_config_map,
                MESH_CONFIGMAP,
                self.root_namespace,
            )
        except NotFound:
            return None
        doc.setdefault("apiVersion", "v1")
        doc.setdefault("kind", "ConfigMap")
        return dict(doc)

    # --- logs, exec, ping ---------------------------------------------------------------------
    def logs(self, namespace: str, pod: str, container: str, since_seconds: int | None = None) -> str:
        objects.validate_name("pod", pod)
        if since_seconds is not None and since_seconds < 1:
            raise InputError(f"since_seconds must be >= 1, got {since_seconds}")
        kwargs: dict[str, Any] = {"container": container}
        if since_seconds is not None:
            kwargs["since_seconds"] = since_seconds
        what = f"logs of {namespace}/{pod} container {container}"
        try:
            raw = self._rest.raw(what, self._core.read_namespaced_pod_log, pod, namespace, **kwargs)
        except ContainerNotFound as exc:
            raise self._container_error(namespace, pod, container) from exc
        except NotFound as exc:
            raise NotFound(f"pod {namespace}/{pod} not found") from exc
        return raw.decode("utf-8", "replace")

    def exec(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float
    ) -> ExecResult:
        objects.validate_name("namespace", namespace)
        objects.validate_name("pod", pod)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise InputError(f"exec argv must be a non-empty list of strings, got {argv!r}")
        if timeout <= 0:
            raise InputError(f"exec timeout must be > 0 seconds, got {timeout}")
        # kubernetes.stream.stream() swaps `call_api` on the ApiClient it is given for the duration of
        # the call, so a shared client would send concurrent REST calls down the websocket path.
        exec_api = client.ApiClient(configuration=self._api.configuration)
        try:
            return exec_in_pod(
                RawApi(exec_api),
                server=self.server,
                namespace=namespace,
                pod=pod,
                container=container,
                argv=argv,
                timeout=timeout,
                explain_container=lambda err: self._container_error(namespace, pod, container, fallback=err),
            )
        finally:
            exec_api.close()

    def ping(self) -> None:
        """Raise ClusterUnreachable (after retries) or Unauthorized; any other answer means it is up."""
        # NotFound/Forbidden: the server answered; a trimmed-down server may not serve /version/.
        with contextlib.suppress(NotFound, Forbidden):
            self._rest.raw("API server version (/version)", self._core.get_code)

    # --- error helpers ------------------------------------------------------------------------
    def _container_error(
        self, namespace: str, pod: str, container: str, fallback: ClusterError | None = None
    ) -> ClusterError:
        """Name the pod's real containers (one extra GET), or say the pod is not running."""
        try:
            info = self.get_pod(namespace, pod)
        except ClusterError:
            return fallback or ContainerNotFound(f"container {container} not in pod {namespace}/{pod}")
        if container in info.containers and info.phase != "Running":
            return PodNotReady(f"pod {namespace}/{pod} is {info.phase}, not Running; cannot use {container}")
        if container not in info.containers:
            return ContainerNotFound(
                f"container {container} not in pod {namespace}/{pod}; containers: {', '.join(info.containers)}"
            )
        return fallback or PodNotReady(f"container {container} of pod {namespace}/{pod} is not running")


if TYPE_CHECKING:  # mypy proves LiveCluster satisfies the Cluster protocol

    def _conforms(live: LiveCluster) -> Cluster:
        return live
