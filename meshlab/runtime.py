"""The running lab: API-server emulator + per-pod apps and real Envoy sidecars, kept in sync.

`Lab.start()` allocates a loopback subnet, serves the scenario's objects from the emulator, issues
SPIFFE certificates, renders every sidecar from the policy engine's decisions, starts the apps
and Envoys, and then follows the emulator: a changed DestinationRule or PeerAuthentication
(`kubectl apply`) re-renders and hot-reloads the affected sidecars within about a second. A
sidecar Envoy that dies is reported in its pod's status and restarted (meshlab.kubelet).
`Lab.stop()` ends every process it started.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from meshlab.apiserver import ContainerContext, Emulator
from meshlab.ca import LabCA
from meshlab.control_plane import flush_interval_ms, mesh_config
from meshlab.kubelet import SidecarKubelet
from meshlab.lab_containers import EphemeralContainers, app_env, bypass_pod
from meshlab.mesh import MeshModel
from meshlab.pod_processes import (
    READY_TIMEOUT_S,
    LabError,
    allocate_subnet,
    app_argv,
    envoy_name,
    start_sidecar,
    wait_sidecars_ready,
)
from meshlab.podenv import container_env, pod_dir, write_app_env, write_proxy_env
from meshlab.processes import Supervisor
from meshlab.scenario import Scenario
from meshlab.sidecar import render_sidecar
from meshlab.sidecar.render import BOOTSTRAP_FILE
from meshlab.topology import LabPod, plan_pods, scenario_objects

log = logging.getLogger(__name__)
WATCHED = ("pods", "services", "configmaps", "destinationrules", "peerauthentications", "telemetries")
RECONCILE_DEBOUNCE_S = 0.2
# Re-exported: callers catch meshlab.runtime.LabError and may read these.
__all__ = ["READY_TIMEOUT_S", "Lab", "LabError", "allocate_subnet"]


class Lab:
    def __init__(
        self,
        scenario: Scenario,
        state_dir: Path,
        extra_objects: Iterable[dict[str, Any]] = (),
        *,
        api_latency: float = 0.0,
        exec_latency: float = 0.0,
    ) -> None:
        self.scenario = scenario
        # Injected control-plane latency (seconds per API call, and per exec on top): see
        # meshlab.apiserver.latency. 0 = the loopback emulator's own speed.
        self.api_latency = api_latency
        self.exec_latency = exec_latency
        self.state_dir = state_dir.resolve()
        self.extra_objects = list(extra_objects)
        self.supervisor = Supervisor()
        self.subnet = ""
        self.pods: list[LabPod] = []
        self.emulator: Emulator | None = None
        self.kubeconfig: Path | None = None
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._reconciler: threading.Thread | None = None
        self._unsubscribe: Any = None
        self._version = 0
        self._rendered: dict[str, str] = {}
        self._apps: dict[str, tuple[int, ...]] = {}
        self.kubelet: SidecarKubelet | None = None
        self.ephemerals = EphemeralContainers(
            self.supervisor,
            self.pod,
            self.pod_dir,
            lambda: self._emulator().store,
            lambda: MeshModel(self.snapshot(), self.pods, self.scenario),
        )

    def _emulator(self) -> Emulator:
        assert self.emulator is not None
        return self.emulator

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything; returns once every sidecar is ready. Call from a long-lived thread:
        children get PR_SET_PDEATHSIG, which fires when the *thread* that started them exits."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.subnet = allocate_subnet(self.state_dir)
        self.pods = plan_pods(self.scenario, self.subnet)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        objects = scenario_objects(self.scenario, self.pods, self.subnet, created) + self.extra_objects
        self._issue_certs()
        self._prepare_containers()
        self.emulator = Emulator(
            objects,
            state_dir=self.state_dir / "apiserver",
            exec_context=self._exec_context,
            log_path=self._log_path,
            api_latency=self.api_latency,
            exec_latency=self.exec_latency,
            ephemeral_start=self.ephemerals.start,
        )
        self.emulator.start(host="127.0.0.1", port=0)
        self.kubeconfig = self.emulator.write_kubeconfig(self.state_dir / "kubeconfig")
        self.reconcile()
        wait_sidecars_ready(self.supervisor, self.pods)
        # From here a dead Envoy is reported in its pod's status and restarted, as a kubelet would.
        self.kubelet = SidecarKubelet(
            self.emulator.store,
            self.supervisor,
            self._live_pods,
            container_log=lambda pod: self.pod_dir(pod) / "istio-proxy.log",
        )
        self.kubelet.start()
        self._unsubscribe = self.emulator.store.subscribe(self._on_change)
        self._reconciler = threading.Thread(target=self._reconcile_loop, name="lab-reconcile", daemon=True)
        self._reconciler.start()

    def stop(self) -> None:
        self._stopping.set()
        self._changed.set()
        if self.kubelet is not None:
            self.kubelet.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._reconciler is not None:
            self._reconciler.join(5)
        self.supervisor.stop_all()
        if self.emulator is not None:
            self.emulator.stop()

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- pods ----------------------------------------------------------------------------------
    def _live_pods(self) -> list[LabPod]:
        """Lab pods the API server still has (a deleted pod's processes are stopped, not restarted)."""
        if self.emulator is None:
            return []
        return [p for p in self.pods if self.emulator.store.get("pods", p.namespace, p.name) is not None]

    def pod(self, namespace: str, name: str) -> LabPod | None:
        return next((p for p in self.pods if (p.namespace, p.name) == (namespace, name)), None)

    def pod_dir(self, pod: LabPod) -> Path:
        return pod_dir(self.state_dir, pod.namespace, pod.name)

    def _issue_certs(self) -> None:
        ca = LabCA()
        other = LabCA("meshprober lab OTHER root (untrusted)")
        # istiod's CA signs SPIFFE IDs in meshConfig.trustDomain (the same value the SANs are checked against).
        trust_domain = str(mesh_config(self.scenario).get("trustDomain") or "cluster.local")
        for pod in self.pods:
            if not pod.has_sidecar:
                continue
            knobs = pod.workload.cert
            ca.write_workload(
                self.pod_dir(pod) / "certs",
                pod.namespace,
                pod.workload.sa,
                signer=other if knobs.issuer == "other-ca" else None,
                san=knobs.san,
                expired=knobs.expired,
                trust_domain=trust_domain,
            )

    def _prepare_containers(self) -> None:
        for pod in self.pods:
            base = self.pod_dir(pod)
            (base / "app").mkdir(parents=True, exist_ok=True)
            (base / "xds").mkdir(parents=True, exist_ok=True)
            (base / "istio-proxy.log").touch()
            (base / "app.log").touch()
            if pod.has_sidecar:
                write_proxy_env(base / "proxy", pod.ip)

    def _exec_context(self, namespace: str, name: str, container: str) -> ContainerContext | None:
        pod = self.pod(namespace, name)
        if pod is None:
            return None
        base = self.pod_dir(pod)
        if container == "istio-proxy" and pod.has_sidecar:
            cwd = base / "proxy"
            return ContainerContext(cwd=cwd, env=container_env(pod, container, cwd, extra_path=cwd / "bin"))
        if container == pod.workload.name:
            cwd = base / "app"
            return ContainerContext(cwd=cwd, env=app_env(pod, container, cwd))
        return self.ephemerals.context(pod, container)

    def _log_path(self, namespace: str, name: str, container: str) -> Path | None:
        pod = self.pod(namespace, name)
        if pod is None:
            return None
        if container == "istio-proxy" and pod.has_sidecar:
            return self.pod_dir(pod) / "istio-proxy.log"
        if container == pod.workload.name:
            return self.pod_dir(pod) / "app.log"
        return None

    # -- reconcile -----------------------------------------------------------------------------
    def _on_change(self, event: str, obj: dict[str, Any]) -> None:
        if obj.get("kind") in {
            "DestinationRule",
            "PeerAuthentication",
            "Service",
            "Pod",
            "ConfigMap",
            "Policy",
            "MeshPolicy",
            "Telemetry",
        }:
            self._changed.set()

    def _reconcile_loop(self) -> None:
        while not self._stopping.is_set():
            self._changed.wait()
            if self._stopping.is_set():
                return
            time.sleep(RECONCILE_DEBOUNCE_S)  # coalesce a burst (kubectl apply -f of many docs)
            self._changed.clear()
            try:
                self.reconcile()
            except Exception:  # keep following changes; the error is in the lab log
                log.exception("lab reconcile failed")

    def snapshot(self) -> list[dict[str, Any]]:
        assert self.emulator is not None
        objects: list[dict[str, Any]] = []
        for resource in WATCHED:
            objects.extend(self.emulator.store.list(resource))
        return objects

    def reconcile(self) -> None:
        """Render every sidecar and curl route from the current objects; (re)start what changed."""
        model = MeshModel(self.snapshot(), self.pods, self.scenario)
        self._version += 1
        live = {(p.namespace, p.name) for p in model.pods}
        for pod in self.pods:
            key = f"{pod.namespace}/{pod.name}"
            if (pod.namespace, pod.name) not in live:
                # kubectl delete pod: its processes stop (the emulator already forgot the pod).
                self.supervisor.stop(envoy_name(key))
                for port in self._apps.pop(key, ()):
                    self.supervisor.stop(f"app:{key}:{port}")
                self._rendered.pop(key, None)
                self.ephemerals.stop_pod(pod)
                continue
            base = self.pod_dir(pod)
            write_app_env(base / "app", model.curl_routes(pod), pod.ip)
            self.ephemerals.refresh(pod, model)
            if pod.has_sidecar:  # curl run as UID 1337 (istio-proxy) is not redirected: it bypasses
                write_app_env(base / "proxy", model.curl_routes(bypass_pod(pod)), pod.ip)
            self._ensure_app(pod, key, tuple(model.app_listen_ports(pod)))
            if pod.has_sidecar:
                self._render_sidecar(pod, key, model)

    def _ensure_app(self, pod: LabPod, key: str, ports: tuple[int, ...]) -> None:
        """Run one app server per listen port; ports that went away (a Service changed) stop."""
        if pod.workload.app.behaviour == "not-listening":
            ports = ()
        old = self._apps.get(key, ())
        if old == ports:
            return
        self._apps[key] = ports
        for port in set(old) - set(ports):
            self.supervisor.stop(f"app:{key}:{port}")
        for port in ports:
            if port in old and self.supervisor.get(f"app:{key}:{port}") is not None:
                continue
            base = self.pod_dir(pod)
            # cwd = the app container's dir, like a container's workdir (and findable via /proc).
            self.supervisor.start(
                f"app:{key}:{port}", app_argv(pod, port), log_path=base / "app-server.out", cwd=base / "app"
            )

    def _render_sidecar(self, pod: LabPod, key: str, model: MeshModel) -> None:
        base = self.pod_dir(pod)
        spec = model.sidecar_spec(pod, base)
        Path(spec.files.access_log).parent.mkdir(parents=True, exist_ok=True)
        files = render_sidecar(spec, version=str(self._version))
        fingerprint = json.dumps({k: v for k, v in files.items() if k != BOOTSTRAP_FILE}, sort_keys=True)
        # Version strings differ every round; compare the content without them.
        fingerprint = fingerprint.replace(f'"version_info": "{self._version}"', "")
        if self._rendered.get(key) == fingerprint and self.supervisor.get(envoy_name(key)):
            return
        self._rendered[key] = fingerprint
        flush = flush_interval_ms(model.mesh) if model.mesh else 100
        start_sidecar(self.supervisor, key, base, files, cwd=base / "proxy", flush_ms=flush)

    def describe(self) -> dict[str, Any]:
        assert self.emulator is not None
        return {
            "running": True,
            "scenario": self.scenario.name,
            "kubeconfig": str(self.kubeconfig),
            "api_server": self.emulator.url,
            "subnet": self.subnet,
            "pods": [f"{p.namespace}/{p.name}" for p in self.pods],
            "pod_ips": {f"{p.namespace}/{p.name}": p.ip for p in self.pods},
            "processes": self.supervisor.pids(),
        }
