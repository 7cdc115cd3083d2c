"""Lab container contexts beyond the app's: images without curl, the proxy's bypass, ephemeral containers.

- `curl: false` on a workload: its app container's PATH holds only a few basic tools and no curl, like
  a slim image (Istio's Bookinfo productpage image is `python:*-slim`, istio/istio
  samples/bookinfo/src/productpage/Dockerfile), so `exec curl` fails the way a real runtime does
  (runc: `exec: "curl": executable file not found in $PATH`, meshlab.apiserver.execws.resolve_binary).
- the istio-proxy container: Istio's iptables rules do not redirect traffic of the proxy's UID 1337
  (istio/istio tools/istio-iptables/pkg/capture/run.go, `-m owner --uid-owner 1337 -j RETURN`,
  86c9f01fd735fb01d8192f5bcaf0d424afb7f14c), so its curl goes straight to the server pod, bypassing
  the sidecar: its routing file (the `curl` shim's, meshlab.podenv) routes like a sidecar-less client's.
- ephemeral containers (`kubectl debug`, the agent's `meshprober-probe`): share the pod's network
  namespace, so their traffic is redirected to the sidecar like the app's: a process with the pod's
  address and the app's routes. The lab runs their command as a real process and reports it running
  (or terminated) in status.ephemeralContainerStatuses. The probe image's curl is the host's curl.
Writes only under the pod's own directory.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meshlab.apiserver import ContainerContext
from meshlab.apiserver.ephemeral import mark_running, mark_terminated
from meshlab.apiserver.store import Store
from meshlab.mesh import MeshModel
from meshlab.podenv import container_env, write_app_env
from meshlab.processes import Supervisor
from meshlab.topology import LabPod

# What a slim image still has: a shell and coreutils, but no curl.
SLIM_TOOLS = ("sh", "sleep", "cat", "env", "ls", "echo", "true", "false", "id")
DEFAULT_COMMAND = ("sleep", "infinity")


def slim_bin(directory: Path) -> Path:
    """A bin dir of SLIM_TOOLS (symlinks to the host's), for a container whose image has no curl."""
    bin_dir = directory / "slim-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in SLIM_TOOLS:
        found = shutil.which(tool)
        link = bin_dir / tool
        if found and not link.exists():
            link.symlink_to(found)
    return bin_dir


def app_env(pod: LabPod, container: str, cwd: Path) -> dict[str, str]:
    # cwd/bin holds the routing `curl` shim (meshlab.podenv.write_app_env), first on PATH.
    env = container_env(pod, container, cwd, extra_path=cwd / "bin")
    if not pod.workload.curl:
        env["PATH"] = str(slim_bin(cwd.parent))
    return env


def bypass_pod(pod: LabPod) -> LabPod:
    """The pod as seen by UID-1337 traffic: no redirect to the sidecar (routes of a sidecar-less client)."""
    return dataclasses.replace(pod, workload=pod.workload.model_copy(update={"sidecar": False}))


class EphemeralContainers:
    """The ephemeral containers the lab runs, per pod; the emulator's `ephemeral_start` hook."""

    def __init__(
        self,
        supervisor: Supervisor,
        pod_of: Callable[[str, str], LabPod | None],
        pod_dir: Callable[[LabPod], Path],
        store: Callable[[], Store],
        model: Callable[[], MeshModel],
    ) -> None:
        self._supervisor = supervisor
        self._pod_of = pod_of
        self._pod_dir = pod_dir
        self._store = store
        self._model = model
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], set[str]] = {}

    def cwd(self, pod: LabPod, container: str) -> Path:
        return self._pod_dir(pod) / "ephemeral" / container

    def start(self, namespace: str, name: str, spec: dict[str, Any]) -> None:
        """Run the container's command in the pod's network; mark it running (or terminated)."""
        pod = self._pod_of(namespace, name)
        container = str(spec.get("name"))
        store = self._store()
        if pod is None:
            mark_terminated(store, namespace, name, container, 128, "StartError")
            return
        cwd = self.cwd(pod, container)
        write_app_env(cwd, self._model().curl_routes(pod), pod.ip)
        argv = [str(a) for a in (spec.get("command") or []) + (spec.get("args") or [])] or list(
            DEFAULT_COMMAND
        )
        env = container_env(pod, container, cwd, extra_path=cwd / "bin")  # the routing curl shim first
        env.update(
            {e["name"]: str(e["value"]) for e in spec.get("env") or [] if "name" in e and "value" in e}
        )
        if shutil.which(argv[0], path=env["PATH"]) is None and not os.path.isabs(argv[0]):
            mark_terminated(store, namespace, name, container, 128, "StartError")
            return
        self._supervisor.start(
            self.process_name(pod, container), argv, log_path=cwd / "container.log", env=env, cwd=cwd
        )
        with self._lock:
            self._running.setdefault((namespace, name), set()).add(container)
        mark_running(store, namespace, name, container)

    @staticmethod
    def process_name(pod: LabPod, container: str) -> str:
        return f"ephemeral:{pod.namespace}/{pod.name}:{container}"

    def names(self, pod: LabPod) -> set[str]:
        with self._lock:
            return set(self._running.get((pod.namespace, pod.name), ()))

    def context(self, pod: LabPod, container: str) -> ContainerContext | None:
        if container not in self.names(pod):
            return None
        cwd = self.cwd(pod, container)
        return ContainerContext(cwd=cwd, env=container_env(pod, container, cwd, extra_path=cwd / "bin"))

    def refresh(self, pod: LabPod, model: MeshModel) -> None:
        """Re-route every ephemeral container of the pod (services changed)."""
        for container in self.names(pod):
            write_app_env(self.cwd(pod, container), model.curl_routes(pod), pod.ip)

    def stop_pod(self, pod: LabPod) -> None:
        """The pod is gone: its ephemeral containers end with it."""
        with self._lock:
            names = self._running.pop((pod.namespace, pod.name), set())
        for container in names:
            self._supervisor.stop(self.process_name(pod, container))
