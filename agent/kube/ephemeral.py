"""Ephemeral probe containers: add `meshprober-probe` to a pod once, wait until it runs, reuse it.

An ephemeral container shares the pod's network namespace, so curl run in it leaves through the pod's
sidecar like the app's traffic (as long as it does not run as the proxy's UID 1337). It is added through
the `pods/ephemeralcontainers` subresource and can never be removed or restarted: it stays in the pod
until the pod is deleted, so it is added at most once per pod and its creations are counted.

A 403 on the subresource is remembered per namespace (FORBIDDEN_TTL_S), so a missing permission costs one
API call per namespace and TTL, not one per probe; `permitted()` asks a SelfSubjectAccessReview first so
`auto` never patches where the permission is absent. No kubernetes import: works over EphemeralApi.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from agent.config.probe_via import PROBE_CONTAINER_NAME, ProbeContainerConfig
from agent.errors import ClusterError, Forbidden, NotFound

FORBIDDEN_TTL_S = 600.0  # a refused namespace is asked again after this long (RBAC may have changed)
ACCESS_TTL_S = 300.0
POLL_S = 0.25
PERMISSION = "patch on pods/ephemeralcontainers"


class EphemeralApi(Protocol):
    def pod_json(self, namespace: str, name: str) -> dict[str, Any]: ...

    def patch_ephemeral_containers(
        self, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]: ...

    def can_i(self, namespace: str, verb: str, resource: str, subresource: str = "") -> bool: ...


class ProbeContainerError(ClusterError):
    """The probe container could not be added or did not start; `stage` names the failure for metrics."""

    def __init__(self, message: str, stage: str = "ephemeral") -> None:
        super().__init__(message)
        self.stage = stage


def forbidden_message(namespace: str, detail: str = "") -> str:
    why = f" ({detail})" if detail else ""
    return (
        f"the agent may not add ephemeral probe containers in namespace {namespace}: it lacks {PERMISSION} "
        f"in {namespace}{why}; enable the kustomize component deploy/components/ephemeral-probes for this "
        "namespace, or probe from a container that has curl (from.container, via: exec)"
    )


def probe_container_spec(settings: ProbeContainerConfig) -> dict[str, Any]:
    """The container to add: sleeps until the pod ends; passes Pod Security "restricted"."""
    return {
        "name": PROBE_CONTAINER_NAME,
        "image": settings.image,
        "imagePullPolicy": "IfNotPresent",
        # `sleep infinity`: GNU coreutils and busybox (the curl image's) both take it; ends with the pod.
        "command": ["sleep", "infinity"],
        "stdin": False,
        "tty": False,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "runAsGroup": settings.run_as_user,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def container_state(pod: Mapping[str, Any], name: str) -> tuple[bool, dict[str, Any] | None]:
    """(is it in spec.ephemeralContainers, its status.ephemeralContainerStatuses[].state or None)."""
    raw_spec, raw_status = pod.get("spec"), pod.get("status")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    declared = any(
        isinstance(c, dict) and c.get("name") == name for c in spec.get("ephemeralContainers") or []
    )
    for cs in status.get("ephemeralContainerStatuses") or []:
        if isinstance(cs, dict) and cs.get("name") == name:
            state = cs.get("state")
            return declared, state if isinstance(state, dict) else {}
    return declared, None


class ProbeContainers:
    """Adds and tracks the probe container of each pod. Thread-safe; one add per pod at a time."""

    def __init__(
        self,
        api: EphemeralApi,
        settings: ProbeContainerConfig,
        on_created: Callable[[str], None] = lambda namespace: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.settings = settings
        self.on_created = on_created
        self._clock = clock
        self._lock = threading.Lock()
        self._pod_locks: dict[tuple[str, str], threading.Lock] = {}
        self._running: set[tuple[str, str]] = set()
        self._forbidden: dict[str, tuple[float, str]] = {}
        self._access: dict[str, tuple[float, bool]] = {}

    # --- permission ---------------------------------------------------------------------------
    def forbidden(self, namespace: str) -> str | None:
        """The remembered 403 message for `namespace`, while it is fresh."""
        with self._lock:
            entry = self._forbidden.get(namespace)
            if entry is None or self._clock() - entry[0] > FORBIDDEN_TTL_S:
                self._forbidden.pop(namespace, None)
                return None
            return entry[1]

    def _remember_forbidden(self, namespace: str, message: str) -> None:
        with self._lock:
            self._forbidden[namespace] = (self._clock(), message)
            self._access[namespace] = (self._clock(), False)

    def permitted(self, namespace: str) -> bool:
        """May the agent add probe containers here? (SelfSubjectAccessReview, cached ACCESS_TTL_S.)"""
        if not self.settings.enabled or self.forbidden(namespace) is not None:
            return False
        with self._lock:
            cached = self._access.get(namespace)
            if cached is not None and self._clock() - cached[0] <= ACCESS_TTL_S:
                return cached[1]
        try:
            allowed = self.api.can_i(namespace, "patch", "pods", "ephemeralcontainers")
        except ClusterError:
            return False  # cannot tell: do not patch blindly; asked again next time
        with self._lock:
            self._access[namespace] = (self._clock(), allowed)
        return allowed

    # --- the container --------------------------------------------------------------------------
    def forget(self, namespace: str, pod: str) -> None:
        """Drop what we know of a pod's probe container (its exec said the container is not there)."""
        with self._lock:
            self._running.discard((namespace, pod))

    def ensure(self, namespace: str, pod: str, timeout: float | None = None) -> str:
        """The name of a running probe container in the pod, adding it first when needed."""
        key = (namespace, pod)
        with self._lock:
            if key in self._running:
                return PROBE_CONTAINER_NAME
            pod_lock = self._pod_locks.setdefault(key, threading.Lock())
            if len(self._pod_locks) > 10_000:  # pods come and go: keep the map bounded
                self._pod_locks = {key: pod_lock}
                self._running &= {key}
        with pod_lock:
            with self._lock:
                if key in self._running:
                    return PROBE_CONTAINER_NAME
            self._ensure(namespace, pod, timeout or self.settings.start_timeout)
            with self._lock:
                self._running.add(key)
        return PROBE_CONTAINER_NAME

    def _ensure(self, namespace: str, pod: str, timeout: float) -> None:
        where = f"pod {namespace}/{pod}"
        try:
            current = self.api.pod_json(namespace, pod)
        except NotFound as exc:
            raise ProbeContainerError(
                f"{where} not found (deleted?); cannot add the probe container"
            ) from exc
        declared, state = container_state(current, PROBE_CONTAINER_NAME)
        if not declared:
            self._add(namespace, pod)
        self._wait_running(namespace, pod, state if declared else None, timeout)

    def _add(self, namespace: str, pod: str) -> None:
        remembered = self.forbidden(namespace)
        if remembered is not None:
            raise ProbeContainerError(remembered, stage="ephemeral_forbidden")
        patch = {"spec": {"ephemeralContainers": [probe_container_spec(self.settings)]}}
        try:
            self.api.patch_ephemeral_containers(namespace, pod, patch)
        except Forbidden as exc:
            message = forbidden_message(namespace, str(exc))
            self._remember_forbidden(namespace, message)
            raise ProbeContainerError(message, stage="ephemeral_forbidden") from exc
        except NotFound as exc:
            raise ProbeContainerError(
                f"pod {namespace}/{pod} not found while adding the probe container (deleted, or the API "
                f"server does not serve pods/ephemeralcontainers: Kubernetes >= 1.25 does): {exc}"
            ) from exc
        except ClusterError as exc:
            raise ProbeContainerError(
                f"adding probe container {PROBE_CONTAINER_NAME} to pod {namespace}/{pod} failed: {exc}"
            ) from exc
        self.on_created(namespace)

    def _wait_running(self, namespace: str, pod: str, state: dict[str, Any] | None, timeout: float) -> None:
        deadline = self._clock() + timeout
        name = PROBE_CONTAINER_NAME
        while True:
            if state is not None and "running" in state:
                return
            if state is not None and "terminated" in state:
                term = state["terminated"] if isinstance(state["terminated"], dict) else {}
                raise ProbeContainerError(
                    f"probe container {name} of pod {namespace}/{pod} terminated "
                    f"(exit {term.get('exitCode')}, {term.get('reason') or 'no reason'}); ephemeral "
                    "containers cannot be restarted or removed: the pod needs to be replaced to probe from it"
                )
            if self._clock() >= deadline:
                waiting = (state or {}).get("waiting") if state else None
                why = (
                    f": {waiting.get('reason')} {waiting.get('message') or ''}".rstrip()
                    if isinstance(waiting, dict)
                    else ""
                )
                raise ProbeContainerError(
                    f"probe container {name} of pod {namespace}/{pod} is not running after {timeout:g}s{why} "
                    f"(image {self.settings.image}: can the node pull it?)"
                )
            time.sleep(POLL_S)
            try:
                current = self.api.pod_json(namespace, pod)
            except NotFound as exc:
                raise ProbeContainerError(
                    f"pod {namespace}/{pod} was deleted while its probe container {name} was starting"
                ) from exc
            _, state = container_state(current, name)
