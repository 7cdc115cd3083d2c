"""One golden-capture "pod": a loopback address, the workload app, and (optionally) a real Envoy sidecar.

Knows where the pod's files live and starts/stops its app and sidecar; does not decide policy (the
caller passes a SidecarSpec). Envoy runs the lab's one way (meshlab.pod_processes under the
caller's Supervisor: PDEATHSIG, always reaped). The app runs in-process on a thread, because
golden scenarios need behaviours (garbage bytes, raw replies) the app_server command line lacks.
Loopback only; every wait bounded; stop() is idempotent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from threading import Thread

from meshlab.app_server import AppBehaviour, make_server, serve_in_thread
from meshlab.envoy_proc import admin_get
from meshlab.pod_processes import envoy_name, start_sidecar, wait_envoy_ready
from meshlab.podenv import ADMIN_PORT
from meshlab.processes import Child, Supervisor
from meshlab.sidecar import SidecarFiles, SidecarSpec, render_sidecar


@dataclass
class GoldenPod:
    name: str
    namespace: str
    ip: str
    state_dir: Path
    supervisor: Supervisor
    service_account: str = "default"
    _servers: list[ThreadingHTTPServer] = field(default_factory=list)
    _threads: list[Thread] = field(default_factory=list)
    _version: int = 0

    @property
    def label(self) -> str:
        """ "namespace/name", as the lab names pods (and their Envoys) everywhere."""
        return f"{self.namespace}/{self.name}"

    @property
    def pod_dir(self) -> Path:
        return self.state_dir / f"{self.namespace}.{self.name}"

    @property
    def access_log(self) -> Path:
        return self.pod_dir / "istio-proxy.log"

    @property
    def certs_dir(self) -> Path:
        return self.pod_dir / "certs"

    @property
    def envoy(self) -> Child | None:
        """The running sidecar, if started (and not yet stopped)."""
        return self.supervisor.get(envoy_name(self.label))

    def sidecar_files(self) -> SidecarFiles:
        d = self.pod_dir
        return SidecarFiles(
            xds_dir=str(d / "xds"),
            cert_chain=str(d / "certs" / "cert-chain.pem"),
            private_key=str(d / "certs" / "key.pem"),
            root_cert=str(d / "certs" / "root-cert.pem"),
            access_log=str(self.access_log),
        )

    def start_app(self, port: int, behaviour: AppBehaviour) -> None:
        server = make_server(self.ip, port, behaviour)
        self._servers.append(server)
        self._threads.append(serve_in_thread(server))

    def apply_sidecar(self, spec: SidecarSpec) -> None:
        """Render and write the sidecar's files; start Envoy the first time, later ones hot-reload."""
        self._version += 1
        if self.envoy is None:
            self.pod_dir.mkdir(parents=True, exist_ok=True)
            self.access_log.touch()
        start_sidecar(self.supervisor, self.label, self.pod_dir, render_sidecar(spec, str(self._version)))

    def wait_ready(self, expect_listeners: int, timeout_s: float = 15.0) -> None:
        """Wait for admin LIVE and for the dynamic listeners to be active (file xDS loads async)."""
        if self.envoy is None:
            return
        wait_envoy_ready(self.supervisor, self.label, self.ip, timeout_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _, body = admin_get(self.ip, ADMIN_PORT, "listeners")
            if len([ln for ln in body.splitlines() if ln.strip()]) >= expect_listeners:
                return
            time.sleep(0.05)
        raise TimeoutError(f"pod {self.label}: listeners not active after {timeout_s}s")

    def admin(self, path: str) -> str:
        status, body = admin_get(self.ip, ADMIN_PORT, path)
        if status >= 400:
            raise RuntimeError(f"admin {path} on {self.ip} returned {status}: {body[:200]}")
        return body

    def stop(self) -> None:
        self.supervisor.stop(envoy_name(self.label))
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()
