"""Where the probe's curl runs: the source container (`exec`), or an ephemeral probe container.

`exec` runs curl in the chosen container, as before. `ephemeral` runs it in `meshprober-probe`, added
to the pod once (agent.kube.ephemeral). `auto` execs, and when the container has no curl (the runtime's
"executable file not found in $PATH") falls back to the probe container where that is enabled and
permitted; otherwise the probe fails saying which container lacks curl and the two ways out. Pods known
to lack curl go straight to the probe container next time. A container running as UID 1337 is refused
before any exec (its traffic would bypass the sidecar). No kubernetes import; the pipeline calls
`probe_via` with its own `probe_once`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from agent.config.probe_via import PROBE_CONTAINER_NAME, ProbeContainerConfig, proxy_uid_error
from agent.errors import CommandNotFound, ContainerNotFound, InputError
from agent.kube.ephemeral import ProbeContainerError, ProbeContainers

if TYPE_CHECKING:
    from agent.config import PathConfig
    from agent.kube.cluster import PodInfo

A = TypeVar("A")
ProbeOnce = Callable[[Any, "PodInfo", str, "PathConfig"], A]
SIDECAR_BYPASS_STAGE = "sidecar_bypass"
NO_CURL_STAGE = "no_curl"


class SidecarBypass(InputError):
    """The source container runs as the proxy's UID: its probe would bypass the sidecar (a 400 ad hoc)."""


class NoCurl(CommandNotFound):
    """The container has no curl and no probe container may be used instead."""


@dataclass
class ViaState:
    """Per-agent state: the probe-container settings, which pods lack curl, the container manager."""

    settings: ProbeContainerConfig = field(default_factory=ProbeContainerConfig)
    on_created: Callable[[str], None] = lambda namespace: None
    _no_curl: set[tuple[str, str, str]] = field(default_factory=set)
    _containers: ProbeContainers | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def containers(self, cluster: Any) -> ProbeContainers | None:
        """The manager over `cluster`, or None when the cluster cannot add ephemeral containers."""
        if not all(hasattr(cluster, m) for m in ("pod_json", "patch_ephemeral_containers", "can_i")):
            return None
        with self._lock:
            if self._containers is None or self._containers.api is not cluster:
                self._containers = ProbeContainers(cluster, self.settings, self._created)
            return self._containers

    def _created(self, namespace: str) -> None:
        self.on_created(namespace)

    def lacks_curl(self, pod: PodInfo, container: str) -> bool:
        with self._lock:
            return (pod.namespace, pod.name, container) in self._no_curl

    def mark_no_curl(self, pod: PodInfo, container: str) -> None:
        with self._lock:
            if len(self._no_curl) > 10_000:  # pods come and go: keep it bounded
                self._no_curl.clear()
            self._no_curl.add((pod.namespace, pod.name, container))


def ways_out(pod: PodInfo, container: str) -> str:
    return (
        f"container {container} of pod {pod.namespace}/{pod.name} has no curl. Two ways out: "
        f"(1) probe from a container that ships curl (from.container, or another workload); "
        f"(2) let the agent add an ephemeral probe container: enable the kustomize component "
        f"deploy/components/ephemeral-probes for namespace {pod.namespace} (grants patch on "
        f"pods/ephemeralcontainers) and set from.via: ephemeral or auto"
    )


def probe_via(
    ctx: Any, pod: PodInfo, container: str, path: PathConfig, probe_once: ProbeOnce[A]
) -> tuple[A, str]:
    """Run the first probe the way the path asks; returns the attempt and the container it ran in.

    Raises SidecarBypass, NoCurl, ProbeContainerError or whatever `probe_once` raises."""
    state: ViaState = ctx.via
    via = path.source.via
    if via == "ephemeral":
        return _in_probe_container(ctx, state, pod, path, probe_once)
    uid_problem = proxy_uid_error(pod.namespace, pod.name, container, pod.run_as_users.get(container))
    if uid_problem is not None:
        raise SidecarBypass(uid_problem)
    if via == "auto" and state.lacks_curl(pod, container) and _may_use_probe_container(ctx, state, pod):
        return _in_probe_container(ctx, state, pod, path, probe_once)
    try:
        return probe_once(ctx.cluster, pod, container, path), container
    except CommandNotFound as exc:
        if via != "auto" or "curl" not in str(exc):
            raise
        state.mark_no_curl(pod, container)
        if not _may_use_probe_container(ctx, state, pod):
            raise NoCurl(f"{ways_out(pod, container)} (exec said: {exc})") from exc
    return _in_probe_container(ctx, state, pod, path, probe_once)


def _may_use_probe_container(ctx: Any, state: ViaState, pod: PodInfo) -> bool:
    containers = state.containers(ctx.cluster)
    return containers is not None and containers.permitted(pod.namespace)


def _in_probe_container(
    ctx: Any, state: ViaState, pod: PodInfo, path: PathConfig, probe_once: ProbeOnce[A]
) -> tuple[A, str]:
    containers = state.containers(ctx.cluster)
    if containers is None:
        raise ProbeContainerError("this cluster client cannot add ephemeral containers")
    name = containers.ensure(pod.namespace, pod.name)
    try:
        return probe_once(ctx.cluster, pod, name, path), name
    except ContainerNotFound:
        # We thought it was there (the pod was replaced under the same name?): look again, once.
        containers.forget(pod.namespace, pod.name)
        name = containers.ensure(pod.namespace, pod.name)
        return probe_once(ctx.cluster, pod, name, path), name


def via_stage(exc: Exception) -> str | None:
    """The failure stage for errors raised here (None: not ours)."""
    if isinstance(exc, SidecarBypass):
        return SIDECAR_BYPASS_STAGE
    if isinstance(exc, NoCurl):
        return NO_CURL_STAGE
    if isinstance(exc, ProbeContainerError):
        return exc.stage
    return None


def probe_container_note(container: str, settings: ProbeContainerConfig, pod: PodInfo) -> str | None:
    """The evidence line saying the probe ran in the ephemeral probe container (None otherwise)."""
    if container != PROBE_CONTAINER_NAME:
        return None
    return (
        f"probe ran in ephemeral container {PROBE_CONTAINER_NAME} (image {settings.image}, "
        f"UID {settings.run_as_user}) of pod {pod.namespace}/{pod.name}, through its sidecar; "
        "ephemeral containers stay in the pod until it is deleted"
    )
