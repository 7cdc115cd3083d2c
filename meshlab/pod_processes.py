"""How a lab pod's processes are run: loopback subnet, app and Envoy argv, xDS files, readiness.

The one way lab Envoys run, for the lab daemon (meshlab.runtime) and the golden capture harness
(tools.golden_capture.golden_pod) alike: under a processes.Supervisor (PDEATHSIG, always reaped). Callers
decide *when* a pod's processes start or stop; this module knows *how*. It makes no policy
decisions (that is meshlab.mesh) and renders no config (meshlab.sidecar).
"""

from __future__ import annotations

import hashlib
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agent.errors import MeshproberError
from meshlab.envoy_proc import envoy_binary, wait_admin_live, write_files
from meshlab.podenv import ADMIN_PORT
from meshlab.processes import Child, Supervisor
from meshlab.sidecar.render import BOOTSTRAP_FILE, CDS_FILE, LDS_FILE
from meshlab.topology import LabPod

READY_TIMEOUT_S = 30.0


class LabError(MeshproberError):
    """The lab could not start or stay in sync."""


def _port_free(ip: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


def allocate_subnet(state_dir: Path) -> str:
    """A 127.X.Y subnet for this lab, stable per state dir, skipping ones another lab uses."""
    seed = int(hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest(), 16)
    for attempt in range(64):
        x = 20 + (seed >> (attempt * 3)) % 200
        y = (seed >> (attempt * 5 + 7)) % 250
        subnet = f"127.{x}.{y}"
        if _port_free(f"{subnet}.10", ADMIN_PORT):
            return subnet
    raise LabError("no free 127.X.Y subnet found for the lab")


def app_argv(pod: LabPod, port: int) -> list[str]:
    app = pod.workload.app
    argv = [sys.executable, "-m", "meshlab.app_server", "--addr", pod.ip, "--port", str(port)]
    argv += ["--status", str(app.status), "--delay-ms", str(app.delay_ms)]
    if app.behaviour == "close":
        argv.append("--close")
    return argv


def envoy_argv(bootstrap: Path, flush_ms: int = 100) -> list[str]:
    return [
        envoy_binary(),
        "-c",
        str(bootstrap),
        "--concurrency",
        "1",
        # No shared memory: several lab Envoys run side by side without base-id clashes.
        "--disable-hot-restart",
        "--log-level",
        "warning",
        "--drain-time-s",
        "1",
        # pilot-agent passes meshConfig.defaultConfig.fileFlushInterval here (the lab's default 0.1 s).
        "--file-flush-interval-msec",
        str(flush_ms),
    ]


def write_xds(xds_dir: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write a sidecar's xDS files in the order Envoy can accept them.

    Envoy validates references on load: EDS files must exist before the CDS naming them, and
    clusters before the LDS routing to them (else a new cluster is rejected: 503 NC)."""
    order = {CDS_FILE: 1, LDS_FILE: 2}
    write_files(xds_dir, dict(sorted(files.items(), key=lambda item: order.get(item[0], 0))))


def envoy_name(pod: str) -> str:
    """The Supervisor name of pod "namespace/name"'s Envoy."""
    return f"envoy:{pod}"


def start_sidecar(
    supervisor: Supervisor,
    pod: str,
    pod_dir: Path,
    files: dict[str, dict[str, Any]],
    cwd: Path | None = None,
    flush_ms: int = 100,
) -> Child:
    """Write a rendered sidecar (meshlab.sidecar.render_sidecar) and make sure its Envoy runs.

    xDS files go to pod_dir/xds, which a running Envoy hot-reloads; the bootstrap is written and
    Envoy started only when none runs yet, since Envoy reads its bootstrap once."""
    xds = {name: doc for name, doc in files.items() if name != BOOTSTRAP_FILE}
    write_xds(pod_dir / "xds", xds)
    child = supervisor.get(envoy_name(pod))
    if child is None:
        write_files(pod_dir, {BOOTSTRAP_FILE: files[BOOTSTRAP_FILE]})
        argv = envoy_argv(pod_dir / BOOTSTRAP_FILE, flush_ms)
        child = supervisor.start(envoy_name(pod), argv, log_path=pod_dir / "envoy.out", cwd=cwd)
    return child


def envoy_exit_reason(pod: str, log_path: Path) -> str:
    """Why pod "namespace/name"'s sidecar died at start, with the one cause a user can fix named plainly."""
    reason = f"envoy of {pod} exited; see {log_path}"
    try:
        text = log_path.read_text(errors="replace")[-20_000:]
    except OSError:
        return reason
    if "inotify" in text:
        # Each Envoy watches its xDS files with a few inotify instances; the per-user limit is
        # machine-wide (default 128), so many labs or Envoys at once can exhaust it.
        reason += " (out of inotify instances: run fewer labs at once or raise fs.inotify.max_user_instances)"
    return reason


def wait_envoy_ready(supervisor: Supervisor, pod: str, ip: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Block until pod "namespace/name"'s Envoy admin on ip says LIVE; LabError if it died or timed out."""

    def check_running() -> None:
        child = supervisor.get(envoy_name(pod))
        if child is not None and not child.alive:
            raise LabError(envoy_exit_reason(pod, child.log_path))

    if not wait_admin_live(ip, ADMIN_PORT, timeout_s, check_running):
        raise LabError(f"envoy of {pod} not ready after {timeout_s:.0f}s")


def wait_sidecars_ready(supervisor: Supervisor, pods: list[LabPod]) -> None:
    """Block until every sidecar's admin says LIVE; LabError naming the first that cannot."""

    def wait(pod: LabPod) -> None:
        wait_envoy_ready(supervisor, f"{pod.namespace}/{pod.name}", pod.ip)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(wait, [p for p in pods if p.has_sidecar]))
