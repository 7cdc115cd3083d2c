"""The istio-proxy container's health from a pod's status: ready, restarts, last termination.

Pure, no I/O: reads Pod JSON (a dict). Both sidecar layouts count: the classic one (istio-proxy in
`spec.containers`, status in `status.containerStatuses`) and the native one Istio injects by default
from 1.28 on Kubernetes >= 1.29 (istio-proxy in `spec.initContainers` with `restartPolicy: Always`,
status in `status.initContainerStatuses`; istio/istio 86c9f01f
pkg/kube/inject/testdata/inject/native-sidecar.yaml.injected). Field meanings: Kubernetes
core/v1 ContainerStatus (`ready`, `restartCount`, `state`, `lastState.terminated`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.istio.mesh import SIDECAR_CONTAINER as SIDECAR


@dataclass(frozen=True)
class SidecarStatus:
    """What the kubelet reports about one pod's istio-proxy."""

    native: bool  # an init container with restartPolicy Always
    ready: bool | None = None  # None: no status reported yet
    restarts: int = 0
    state: str | None = None  # "running" | "waiting" | "terminated"
    reason: str | None = None  # of the current state, e.g. CrashLoopBackOff
    last_reason: str | None = None  # of lastState.terminated, e.g. Error, OOMKilled
    last_exit_code: int | None = None
    last_finished: str | None = None  # RFC 3339

    @property
    def healthy(self) -> bool:
        return self.ready is not False and self.state in (None, "running")

    def describe(self) -> str:
        """e.g. "not ready (waiting: CrashLoopBackOff), restarted 3 times, last exit 137 (Error) at ..."."""
        parts = ["ready" if self.ready else "not ready" if self.ready is False else "readiness unknown"]
        if self.state and self.state != "running":
            parts[0] += f" ({self.state}" + (f": {self.reason})" if self.reason else ")")
        if self.restarts:
            parts.append(f"restarted {self.restarts} time{'s' if self.restarts != 1 else ''}")
        if self.last_exit_code is not None or self.last_reason:
            last = "last terminated"
            if self.last_exit_code is not None:
                last += f" with exit code {self.last_exit_code}"
            if self.last_reason:
                last += f" ({self.last_reason})"
            if self.last_finished:
                last += f" at {self.last_finished}"
            parts.append(last)
        return ", ".join(parts)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def native_sidecar(spec: Mapping[str, Any]) -> bool:
    """istio-proxy is a native sidecar: an init container with restartPolicy Always."""
    return any(
        isinstance(c, Mapping) and c.get("name") == SIDECAR and c.get("restartPolicy") == "Always"
        for c in _list(spec.get("initContainers"))
    )


def sidecar_status(pod: Mapping[str, Any]) -> SidecarStatus | None:
    """The istio-proxy status of a Pod manifest; None when the pod has no istio-proxy container."""
    spec, status = _dict(pod.get("spec")), _dict(pod.get("status"))
    native = native_sidecar(spec)
    in_containers = any(
        isinstance(c, Mapping) and c.get("name") == SIDECAR for c in _list(spec.get("containers"))
    )
    if not native and not in_containers:
        return None
    key = "initContainerStatuses" if native else "containerStatuses"
    cs = next(
        (c for c in _list(status.get(key)) if isinstance(c, Mapping) and c.get("name") == SIDECAR), None
    )
    if cs is None:
        return SidecarStatus(native)
    state = _dict(cs.get("state"))
    current = next((k for k in ("running", "waiting", "terminated") if k in state), None)
    last = _dict(_dict(cs.get("lastState")).get("terminated"))
    exit_code = last.get("exitCode")
    restarts = cs.get("restartCount")
    ready = cs.get("ready")
    return SidecarStatus(
        native=native,
        ready=ready if isinstance(ready, bool) else None,
        restarts=restarts if isinstance(restarts, int) else 0,
        state=current,
        reason=str(_dict(state.get(current)).get("reason") or "") or None if current else None,
        last_reason=str(last.get("reason") or "") or None,
        last_exit_code=exit_code if isinstance(exit_code, int) else None,
        last_finished=str(last.get("finishedAt") or "") or None,
    )


RECENT_S = 300.0  # a restart this close to the probe may have failed it, even if the sidecar is back


def _epoch(rfc3339: str | None) -> float | None:
    from datetime import datetime

    if not rfc3339:
        return None
    try:
        return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def trouble(status: SidecarStatus | None, probe_started: float) -> str | None:
    """What is wrong with this istio-proxy around a probe that started at `probe_started` (epoch s):
    not ready, not running, or terminated within RECENT_S of the probe; None when it looks fine."""
    if status is None:
        return None
    finished = _epoch(status.last_finished)
    recent = finished is not None and finished >= probe_started - RECENT_S
    if status.healthy and not recent:
        return None
    return status.describe()
