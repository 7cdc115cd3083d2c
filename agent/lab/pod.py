"""One lab "pod": a loopback address, the workload app, and (optionally) a real Envoy sidecar.

Knows how to start/stop them and where their files live; does not decide policy (the caller passes
a rendered SidecarSpec). Loopback only; every wait bounded; stop() is idempotent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from threading import Thread

from agent.lab.app_server import AppBehaviour, make_server, serve_in_thread
from agent.lab.envoy_proc import EnvoyProcess, admin_get, write_files
from agent.lab.sidecar import SidecarFiles, SidecarSpec, render_sidecar
from agent.lab.sidecar.render import BOOTSTRAP_FILE


@dataclass
class LabPod:
    name: str
    namespace: str
    ip: str
    state_dir: Path
    service_account: str = "default"
    _servers: list[ThreadingHTTPServer] = field(default_factory=list)
    _threads: list[Thread] = field(default_factory=list)
    envoy: EnvoyProcess | None = None
    _version: int = 0

    @property
    def pod_dir(self) -> Path:
        return self.state_dir / f"{self.namespace}.{self.name}"

    @property
    def access_log(self) -> Path:
        return self.pod_dir / "istio-proxy.log"

    def sidecar_files(self) -> SidecarFiles:
        d = self.pod_dir
        return SidecarFiles(
            xds_dir=str(d / "xds"),
            cert_chain=str(d / "certs" / "cert-chain.pem"),
            private_key=str(d / "certs" / "key.pem"),
            root_cert=str(d / "certs" / "root-cert.pem"),
            access_log=str(self.access_log),
        )

    @property
    def certs_dir(self) -> Path:
        return self.pod_dir / "certs"

    def start_app(self, port: int, behaviour: AppBehaviour) -> None:
        server = make_server(self.ip, port, behaviour)
        self._servers.append(server)
        self._threads.append(serve_in_thread(server))

    def apply_sidecar(self, spec: SidecarSpec) -> None:
        """Render and write the sidecar's files; start Envoy the first time, later ones hot-reload."""
        self._version += 1
        files = render_sidecar(spec, version=str(self._version))
        xds_dir = Path(spec.files.xds_dir)
        # EDS/CDS/LDS first, bootstrap last: Envoy reads the bootstrap only at start.
        write_files(xds_dir, {k: v for k, v in files.items() if k != BOOTSTRAP_FILE})
        write_files(self.pod_dir, {BOOTSTRAP_FILE: files[BOOTSTRAP_FILE]})
        if self.envoy is None:
            self.access_log.touch()
            self.envoy = EnvoyProcess(
                self.pod_dir / BOOTSTRAP_FILE, self.ip, spec.admin_port, self.pod_dir / "envoy.log"
            )
            self.envoy.start()

    def wait_ready(self, expect_listeners: int, timeout_s: float = 15.0) -> None:
        """Wait for admin LIVE and for the dynamic listeners to be active (file xDS loads async)."""
        if self.envoy is None:
            return
        self.envoy.wait_ready(timeout_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _, body = admin_get(self.ip, 15000, "listeners")
            if len([ln for ln in body.splitlines() if ln.strip()]) >= expect_listeners:
                return
            time.sleep(0.05)
        raise TimeoutError(f"pod {self.namespace}/{self.name}: listeners not active after {timeout_s}s")

    def admin(self, path: str) -> str:
        status, body = admin_get(self.ip, 15000, path)
        if status >= 400:
            raise RuntimeError(f"admin {path} on {self.ip} returned {status}: {body[:200]}")
        return body

    def stop(self) -> None:
        if self.envoy is not None:
            self.envoy.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()
