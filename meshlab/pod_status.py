"""Pod status as a kubelet writes it when a container dies, waits in back-off, restarts and turns ready.

Pure: takes a pod object and returns a changed copy; no clock or I/O (times are passed in). Field
semantics from the Kubernetes API reference (ContainerStatus: `state`, `lastState`, `restartCount`,
`ready`, `started`; PodCondition Ready/ContainersReady with reason ContainersNotReady) and the
kubelet's wording (pkg/kubelet/kuberuntime: `back-off 10s restarting failed container=... pod=...`;
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts). A native
sidecar's status is in `initContainerStatuses` (https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/).
"""

from __future__ import annotations

import copy
import signal
from typing import Any

PROXY = "istio-proxy"


def exit_code(returncode: int) -> int:
    """A container's exit code as the runtime reports it: 128 + signal for a signal death (SIGKILL = 137)."""
    return 128 - returncode if returncode < 0 else returncode


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.setdefault("status", {})
    return list(status.get("containerStatuses") or []) + list(status.get("initContainerStatuses") or [])


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for cs in _statuses(pod):
        if cs.get("name") == name:
            return cs
    raise KeyError(f"pod {pod.get('metadata', {}).get('name')} has no status for container {name}")


def _counted(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Statuses that decide ContainersReady: every container and every restartable init container."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    sidecars = {c.get("name") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"}
    inits = [s for s in status.get("initContainerStatuses") or [] if s.get("name") in sidecars]
    return list(status.get("containerStatuses") or []) + inits


def _set_ready_conditions(pod: dict[str, Any], now: str) -> None:
    unready = [s.get("name", "") for s in _counted(pod) if not s.get("ready")]
    for cond in pod.setdefault("status", {}).setdefault("conditions", []):
        if cond.get("type") not in ("Ready", "ContainersReady"):
            continue
        want = "False" if unready else "True"
        if cond.get("status") != want:
            cond["lastTransitionTime"] = now
        cond["status"] = want
        if unready:
            cond["reason"] = "ContainersNotReady"
            cond["message"] = f"containers with unready status: [{' '.join(unready)}]"
        else:
            cond.pop("reason", None)
            cond.pop("message", None)


def terminated(
    pod: dict[str, Any], *, code: int, finished_at: str, back_off_s: float | None, container: str = PROXY
) -> dict[str, Any]:
    """The container died with `code`: lastState.terminated, not ready; waiting in CrashLoopBackOff when
    `back_off_s` is set (else the kubelet restarts it at once and `restarted` follows)."""
    pod = copy.deepcopy(pod)
    cs = _container(pod, container)
    started = ((cs.get("state") or {}).get("running") or {}).get("startedAt") or finished_at
    cs["lastState"] = {
        "terminated": {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": started,
            "finishedAt": finished_at,
            "containerID": cs.get("containerID", ""),
        }
    }
    if code > 128 and code - 128 in {s.value for s in signal.Signals}:
        cs["lastState"]["terminated"]["signal"] = code - 128
    cs["ready"] = False
    cs["started"] = False
    if back_off_s is not None:
        meta = pod.get("metadata") or {}
        cs["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {back_off_s:g}s restarting failed container={container} "
                f"pod={meta.get('name')}_{meta.get('namespace')}({meta.get('uid', '')})",
            }
        }
    else:
        cs["state"] = {"terminated": dict(cs["lastState"]["terminated"])}
    _set_ready_conditions(pod, finished_at)
    return pod


def restarted(pod: dict[str, Any], *, started_at: str, container: str = PROXY) -> dict[str, Any]:
    """A new instance of the container runs (restartCount + 1); not ready until its probe passes."""
    pod = copy.deepcopy(pod)
    cs = _container(pod, container)
    cs["restartCount"] = int(cs.get("restartCount") or 0) + 1
    cs["state"] = {"running": {"startedAt": started_at}}
    cs["ready"] = False
    cs["started"] = False
    _set_ready_conditions(pod, started_at)
    return pod


def became_ready(pod: dict[str, Any], *, now: str, container: str = PROXY) -> dict[str, Any]:
    """The container's startup/readiness probe passed: started, ready, and the pod Ready if all are."""
    pod = copy.deepcopy(pod)
    cs = _container(pod, container)
    cs["ready"] = True
    cs["started"] = True
    _set_ready_conditions(pod, now)
    return pod
