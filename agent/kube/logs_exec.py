"""Container logs and exec for LiveCluster: argument checks, and errors that name the pod's real containers.

The websocket exec itself lives in `exec_call` (handshake, frames, exit status); this module checks the
arguments, gives every exec its own ApiClient, and turns "bad container" answers into errors naming the
pod's containers or phase (one extra GET through `get_pod`). No listing, no client construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kubernetes import client

from agent.errors import ClusterError, ContainerNotFound, InputError, MeshproberError, NotFound, PodNotReady
from agent.kube import objects
from agent.kube.cluster import ExecResult, PodInfo
from agent.kube.exec_call import exec_in_pod
from agent.kube.log_follow import MAX_FOLLOW_S, LogFollow
from agent.kube.raw_api import RawApi
from agent.kube.rest import REQUEST_TIMEOUT, Rest

PodGetter = Callable[[str, str], PodInfo]  # (namespace, name) -> PodInfo, e.g. CoreReads.get_pod
# Every log read is bounded in time and bytes (PodLogOptions sinceSeconds/limitBytes): a chatty sidecar
# must not grow the agent's memory. The probe's own lines are seconds old.
DEFAULT_LOG_WINDOW_S = 300
MAX_LOG_BYTES = 4 * 1024 * 1024


class LogsAndExec:
    """Reads container logs and runs commands in containers of one cluster."""

    def __init__(self, api_client: client.ApiClient, core: RawApi, rest: Rest, get_pod: PodGetter) -> None:
        self._api = api_client
        self._core = core
        self._rest = rest
        self._get_pod = get_pod
        self.server: str = rest.server

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        """The container's log lines of the last `since_seconds` (default DEFAULT_LOG_WINDOW_S), at most
        `limit_bytes` (default MAX_LOG_BYTES): both are always sent."""
        since = DEFAULT_LOG_WINDOW_S if since_seconds is None else since_seconds
        limit = MAX_LOG_BYTES if limit_bytes is None else limit_bytes
        what, kwargs = self._log_request(namespace, pod, container, since, limit)
        try:
            raw = self._rest.raw(what, self._core.read_namespaced_pod_log, pod, namespace, **kwargs)
        except MeshproberError as exc:
            named = self._log_error(namespace, pod, container, exc)
            if named is exc:
                raise
            raise named from exc
        return raw.decode("utf-8", "replace")

    def follow(
        self, namespace: str, pod: str, container: str, since_seconds: int, limit_bytes: int
    ) -> LogFollow:
        """Follow the container's log from `since_seconds` ago (agent.kube.log_follow); opened in
        the background, so this returns at once and an error shows when the stream is closed."""
        what, kwargs = self._log_request(namespace, pod, container, since_seconds, limit_bytes)
        kwargs |= {"follow": True, "_request_timeout": (REQUEST_TIMEOUT[0], MAX_FOLLOW_S)}

        def open_stream() -> Any:
            return self._rest.stream(what, self._core.read_namespaced_pod_log, pod, namespace, **kwargs)

        return LogFollow(
            open_stream, what, limit_bytes, lambda exc: self._log_error(namespace, pod, container, exc)
        )

    @staticmethod
    def _log_request(
        namespace: str, pod: str, container: str, since: int, limit: int
    ) -> tuple[str, dict[str, Any]]:
        """What a log read is called in errors, and its checked query (PodLogOptions)."""
        objects.validate_name("namespace", namespace)
        objects.validate_name("pod", pod)
        if since < 1:
            raise InputError(f"since_seconds must be >= 1, got {since}")
        if limit < 1:
            raise InputError(f"limit_bytes must be >= 1, got {limit}")
        what = f"logs of {namespace}/{pod} container {container}"
        return what, {"container": container, "since_seconds": since, "limit_bytes": limit}

    def _log_error(self, namespace: str, pod: str, container: str, exc: MeshproberError) -> MeshproberError:
        """A log read's failure, naming the pod's real containers when the container was wrong."""
        if isinstance(exc, ContainerNotFound):
            return self.container_error(namespace, pod, container)
        if isinstance(exc, NotFound):
            return NotFound(f"pod {namespace}/{pod} not found")
        return exc

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
                explain_container=lambda err: self.container_error(namespace, pod, container, fallback=err),
            )
        finally:
            exec_api.close()

    def container_error(
        self, namespace: str, pod: str, container: str, fallback: ClusterError | None = None
    ) -> ClusterError:
        """Name the pod's real containers (one extra GET), or say the pod is not running."""
        try:
            info = self._get_pod(namespace, pod)
        except ClusterError:
            return fallback or ContainerNotFound(f"container {container} not in pod {namespace}/{pod}")
        if container in info.containers and info.phase != "Running":
            return PodNotReady(f"pod {namespace}/{pod} is {info.phase}, not Running; cannot use {container}")
        if container not in info.containers:
            return ContainerNotFound(
                f"container {container} not in pod {namespace}/{pod}; containers: {', '.join(info.containers)}"
            )
        return fallback or PodNotReady(f"container {container} of pod {namespace}/{pod} is not running")
