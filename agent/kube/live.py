"""LiveCluster: the Cluster protocol over the official `kubernetes` client (REST + exec websocket).

Each instance owns its own Configuration/ApiClient (never the process-wide default). REST calls read
raw JSON (`_preload_content=False`) so JSON bodies are never mangled and odd fields never fail model
validation. Every client exception is mapped to agent.errors here; transport failures are retried
(bounded) and then reported as ClusterUnreachable naming the server.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from agent.errors import (
    ClusterError,
    CommandNotFound,
    ContainerNotFound,
    ExecError,
    Forbidden,
    InputError,
    NotFound,
    PodNotReady,
)
from agent.kube import objects
from agent.kube.cluster import ExecResult, PodInfo, ServiceInfo
from agent.kube.errors_map import handshake_status, map_status, parse_status
from agent.kube.exec_status import parse_exec_status
from agent.kube.exec_stream import read_exec_stream
from agent.kube.live_config import (
    incluster_configuration,
    is_transient,
    kubeconfig_configuration,
    running_in_cluster,
)
from agent.kube.policy_kinds import POLICY_KINDS, pick_version, served_from_group_list
from agent.kube.retry import BUDGET, with_retries

REQUEST_TIMEOUT = (3.0, 30.0)  # (connect, read) seconds for REST calls
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "busybox"})
# Programs that run another program from their argv and exit 126/127 when it is missing.
WRAPPERS = frozenset({"env", "timeout", "nice", "nohup", "stdbuf", "setsid"})
VALUE_OPTIONS = frozenset(
    {"-s", "-k", "-n", "-i", "-o", "-e", "-u", "--signal", "--kill-after", "--adjustment"}
)


def target_program(argv: Sequence[str]) -> str:
    """The program a 126/127 most likely refers to: argv[0], or what a wrapper like `env` runs."""
    names = [a.rsplit("/", 1)[-1] for a in argv]
    if names[0] not in WRAPPERS:
        return names[0]
    skip_next = False
    for name in names[1:]:
        if skip_next:
            skip_next = False
        elif name in VALUE_OPTIONS:
            skip_next = True
        elif name and not name.startswith("-") and "=" not in name and not name[0].isdigit():
            return name
    return names[0]


MESH_CONFIGMAP = "istio"


class LiveCluster:
    """Read-mostly access to one real cluster; see agent.kube.cluster.Cluster."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str = "default",
        root_namespace: str = "istio-system",
    ) -> None:
        self._api = api_client
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self.server: str = str(api_client.configuration.host)
        self.namespace = namespace
        self.root_namespace = root_namespace

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

    # --- REST plumbing ------------------------------------------------------------------------
    def _json(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return json.loads(self._raw(what, method, *args, **kwargs))

    def _raw(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        def call() -> bytes:
            resp = method(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
            try:
                return bytes(resp.data)
            finally:
                resp.release_conn()

        try:
            return with_retries(call, transient=is_transient, server=self.server)
        except ApiException as exc:
            raise map_status(parse_status(exc.status or 0, exc.body), what=what, server=self.server) from exc

    # --- pods and services --------------------------------------------------------------------
    def list_pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[PodInfo]:
        selector = objects.validate_label_selector(label_selector) if label_selector else None
        items = self._list_raw("pods", namespace, label_selector=selector)
        return [objects.pod_from_dict(i) for i in items]

    def get_pod(self, namespace: str, name: str) -> PodInfo:
        objects.validate_name("namespace", namespace)
        objects.validate_name("pod", name)
        doc = self._json(f"pod {namespace}/{name}", self._core.read_namespaced_pod, name, namespace)
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
        return [objects.service_from_dict(i) for i in self._list_raw("services", namespace)]

    def service_endpoints(self, namespace: str, service: str) -> list[objects.Endpoint]:
        """Addresses behind a Service (core/v1 Endpoints; falls back to discovery/v1 EndpointSlices)."""
        objects.validate_name("service", service)
        what = f"endpoints of service {namespace}/{service}"
        try:
            doc = self._json(what, self._core.read_namespaced_endpoints, service, namespace)
            return objects.endpoints_from_dict(doc)
        except NotFound:
            discovery = client.DiscoveryV1Api(self._api)
            lst = self._json(
                what,
                discovery.list_namespaced_endpoint_slice,
                namespace,
                label_selector=f"kubernetes.io/service-name={service}",
            )
            return [e for s in lst.get("items") or [] for e in objects.endpoints_from_slice(s)]

    def _list_raw(
        self, plural: str, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        kind = {"pods": "Pod", "services": "Service"}[plural]
        kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        if namespace:
            objects.validate_name("namespace", namespace)
            method = getattr(self._core, f"list_namespaced_{kind.lower()}")
            doc = self._json(f"list {plural} in namespace {namespace}", method, namespace, **kwargs)
        else:
            method = getattr(self._core, f"list_{kind.lower()}_for_all_namespaces")
            doc = self._json(f"list {plural} in all namespaces", method, **kwargs)
        items = [i for i in doc.get("items") or [] if isinstance(i, dict)]
        for item in items:  # list items come without kind/apiVersion; the policy loader wants them
            item.setdefault("apiVersion", "v1")
            item.setdefault("kind", kind)
        return items

    # --- Istio policy -------------------------------------------------------------------------
    def served_versions(self) -> dict[str, list[str]]:
        """{group: [versions, preferred first]} from /apis."""
        doc = self._json("API discovery (/apis)", client.ApisApi(self._api).get_api_versions)
        return served_from_group_list(doc)

    def list_policy_objects(self) -> list[dict[str, Any]]:
        try:
            served: dict[str, list[str]] | None = self.served_versions()
        except NotFound:
            served = None  # no usable /apis/ document: probe each known version instead
        out: list[dict[str, Any]] = []
        for kind in POLICY_KINDS:
            candidates = [pick_version(kind, served)] if served is not None else list(kind.versions)
            for version in candidates:
                if version is None:
                    continue
                what = f"list {kind.plural}.{kind.group}/{version}"
                try:
                    doc = self._json(
                        what, self._custom.list_cluster_custom_object, kind.group, version, kind.plural
                    )
                except NotFound:  # this version (or the resource) is not served
                    continue
                for item in doc.get("items") or []:
                    item.setdefault("apiVersion", f"{kind.group}/{version}")
                    item.setdefault("kind", kind.kind)
                    out.append(item)
                break
        mesh = self.mesh_configmap()
        if mesh is not None:
            out.append(mesh)
        out.extend(self._list_raw("services", None))
        out.extend(self._list_raw("pods", None))
        return out

    def mesh_configmap(self) -> dict[str, Any] | None:
        """The `istio` ConfigMap in the mesh root namespace, or None when absent."""
        try:
            doc = self._json(
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
            raw = self._raw(what, self._core.read_namespaced_pod_log, pod, namespace, **kwargs)
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
        deadline = time.monotonic() + timeout
        what = f"{argv[0]!r} in {namespace}/{pod} container {container}"

        def connect() -> Any:
            return stream(
                self._core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=list(argv),
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
                binary=True,
            )

        try:
            ws = with_retries(
                connect, transient=is_transient, server=self.server, budget=min(BUDGET, timeout)
            )
        except ApiException as exc:
            raise self._exec_handshake_error(exc, namespace, pod, container) from exc
        frames = read_exec_stream(ws, deadline, what)
        status = parse_exec_status(b"".join(frames.status))
        program = target_program(argv)
        if status.exit_code is None:
            if status.command_missing:
                raise CommandNotFound(
                    f"{program} is not installed in container {container} of {namespace}/{pod}"
                )
            raise ExecError(f"exec {what} failed before the command ran: {status.error}")
        # 126/127 from a non-shell program means the runtime could not start it (missing/not executable).
        if status.exit_code in (126, 127) and program not in SHELLS:
            raise CommandNotFound(
                f"{program} is not installed (or not executable) in container {container} of {namespace}/{pod}"
                f" (exit {status.exit_code}); use an image that ships {program} or probe from another workload"
            )
        return ExecResult(stdout=frames.out(), stderr=frames.err(), exit_code=status.exit_code)

    def ping(self) -> None:
        """Raise ClusterUnreachable (after retries) or Unauthorized; any other answer means it is up."""
        # NotFound/Forbidden: the server answered; a trimmed-down server may not serve /version/.
        with contextlib.suppress(NotFound, Forbidden):
            self._raw("API server version (/version)", client.VersionApi(self._api).get_code)

    # --- error helpers ------------------------------------------------------------------------
    def _exec_handshake_error(
        self, exc: ApiException, namespace: str, pod: str, container: str
    ) -> ClusterError:
        ctx = exc.__context__
        code = getattr(ctx, "status_code", None)
        body = getattr(ctx, "resp_body", None)
        if not isinstance(code, int):
            parsed = handshake_status(str(exc.reason))
            if parsed is None:
                return ExecError(f"exec into {namespace}/{pod} failed: {exc.reason}")
            code, body = parsed
        status = parse_status(code, body)
        if status.code == 404:
            return NotFound(f"pod {namespace}/{pod} not found")
        mapped = map_status(status, what=f"exec into pod {namespace}/{pod}", server=self.server)
        if isinstance(mapped, ContainerNotFound | PodNotReady):
            return self._container_error(namespace, pod, container, fallback=mapped)
        return mapped

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
