"""The lab's kubelet for sidecars: notices a dead Envoy, reports it in the pod status, restarts it.

Kubernetes behaviour mirrored (restartPolicy Always, which injected pods and native sidecars have):
- the kubelet notices a container's exit on its next relist (PLEG, every 1 s);
- the first restart is immediate, each later one waits an exponential back-off from the last exit,
  10 s doubling to 300 s (state `waiting: CrashLoopBackOff` meanwhile); the back-off is forgotten after
  10 minutes without a crash (kubelet flowcontrol.Backoff; pod-lifecycle docs, "Container restarts");
- a restarted container is not ready until its probe passes (here: Envoy's admin `/ready` is LIVE).
Status writes go through the emulator's store (meshlab.pod_status builds them), so the real kubectl
shows `0/2`/`1/2`, the restart count and `lastState.terminated`. Every wait is bounded; stop() ends
the thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshlab import pod_status
from meshlab.apiserver.logs import previous_path
from meshlab.apiserver.resources import resolve
from meshlab.apiserver.status import ApiError
from meshlab.apiserver.store import Store, now_rfc3339
from meshlab.envoy_proc import admin_get
from meshlab.pod_processes import envoy_name
from meshlab.podenv import ADMIN_PORT
from meshlab.processes import Supervisor
from meshlab.topology import LabPod

log = logging.getLogger(__name__)
RELIST_S = 1.0
BACK_OFF_INITIAL_S = 10.0
BACK_OFF_MAX_S = 300.0
BACK_OFF_RESET_S = 2 * BACK_OFF_MAX_S  # flowcontrol: an entry idle this long is forgotten


@dataclass
class _Track:
    ready: bool = True
    dead: bool = False
    back_off_s: float = 0.0  # 0: no back-off entry yet
    last_restart: float = 0.0  # when the back-off entry was last advanced (flowcontrol's lastUpdate)
    retry_at: float = 0.0


def _admin_ready(pod: LabPod) -> bool:
    """The readiness probe: Envoy's admin `/ready` answers LIVE (what pilot-agent's /healthz/ready checks)."""
    try:
        status, body = admin_get(pod.ip, ADMIN_PORT, "ready", timeout=1.0)
    except OSError:
        return False
    return status == 200 and body.strip() == "LIVE"


class SidecarKubelet:
    """Watches every sidecar Envoy under `supervisor` and keeps `store`'s pod status truthful."""

    def __init__(
        self,
        store: Store,
        supervisor: Supervisor,
        pods: Callable[[], list[LabPod]],
        relist_s: float = RELIST_S,
        back_off_initial_s: float = BACK_OFF_INITIAL_S,
        container_log: Callable[[LabPod], Path] | None = None,
        clock: Callable[[], float] = time.monotonic,
        probe: Callable[[LabPod], bool] | None = None,
    ) -> None:
        self.store = store
        self.supervisor = supervisor
        self.pods = pods
        self.relist_s = relist_s
        self.back_off_initial_s = back_off_initial_s
        self.container_log = container_log
        self.clock = clock
        self.probe = probe or _admin_ready
        self._tracks: dict[str, _Track] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lab-kubelet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.relist_s):
            try:
                self.sync_once()
            except Exception:  # keep the kubelet alive; the cause is in the lab log
                log.exception("lab kubelet sync failed")

    def sync_once(self) -> None:
        for pod in self.pods():
            if pod.has_sidecar and not self._stop.is_set():
                self._sync(pod)

    def _sync(self, pod: LabPod) -> None:
        key = f"{pod.namespace}/{pod.name}"
        child = self.supervisor.get(envoy_name(key))
        if child is None:
            return  # not started yet, or the pod was deleted
        track = self._tracks.setdefault(key, _Track())
        now = self.clock()
        if child.alive:
            track.dead = False  # running (restarted by us, or started again by the lab's reconcile)
            if not track.ready and self.probe(pod):
                track.ready = True
                self._write(pod, lambda p: pod_status.became_ready(p, now=now_rfc3339()))
            return
        if not track.dead:
            track.dead, track.ready = True, False
            code = pod_status.exit_code(child.proc.returncode if child.proc.returncode is not None else -9)
            if track.back_off_s and now - track.last_restart > BACK_OFF_RESET_S:
                track.back_off_s = 0.0
            wait = track.back_off_s or None  # the first exit restarts at once
            track.retry_at = now + (wait or 0.0)
            log.warning("sidecar of %s exited with %d; restart in %.0fs", key, code, wait or 0.0)
            finished = now_rfc3339()
            self._write(
                pod, lambda p: pod_status.terminated(p, code=code, finished_at=finished, back_off_s=wait)
            )
        if now < track.retry_at:
            return
        if self.supervisor.get(child.name) is not child:
            return  # the lab stopped or replaced it meanwhile (pod deleted, lab stopping)
        # flowcontrol.Backoff.Next: the first restart sets the initial back-off, each later one doubles it.
        track.back_off_s = (
            min(BACK_OFF_MAX_S, track.back_off_s * 2) if track.back_off_s else self.back_off_initial_s
        )
        track.last_restart = now
        track.dead = False
        if self.container_log is not None:
            # Each container instance has its own log; the kubelet keeps the last one (`kubectl logs -p`).
            log_file = self.container_log(pod)
            if log_file.exists():
                os.replace(log_file, previous_path(log_file))
        self.supervisor.start(child.name, child.argv, log_path=child.log_path, cwd=child.cwd)
        self._write(pod, lambda p: pod_status.restarted(p, started_at=now_rfc3339()))

    def _write(self, pod: LabPod, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Apply `change` to the stored pod; retried on a concurrent write (optimistic lock, 3 tries)."""
        rt = resolve("pods")
        assert rt is not None
        for _ in range(3):
            current = self.store.get(rt, pod.namespace, pod.name)
            if current is None:
                return
            try:
                self.store.replace(rt, pod.namespace, change(current))
                return
            except ApiError as exc:
                if exc.code != 409:
                    raise
        log.warning("pod %s/%s status not written: kept changing", pod.namespace, pod.name)
