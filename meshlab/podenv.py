"""A lab pod's container context on disk: working dirs, environment, curl routing, pilot-agent shim.

This stands in for what a real pod gets from its image and from istio-init's iptables rules:
- app container: a `curl` shim first on PATH that runs the real curl with the pod's routing file
  (`connect-to` lines, passed with `-K` after any leading `-q`), so an unchanged `curl http://svc.ns:port/`
  enters the pod's own sidecar outbound listener (or, without a sidecar, goes straight to a server pod).
  A `.curlrc` would not do: the agent's probe passes `-q` so a container's own .curlrc cannot steer it,
  and in a real pod iptables redirects the connection whatever curl was told, which the shim mirrors;
- istio-proxy container: a `pilot-agent` executable on PATH that talks to this pod's Envoy admin.
Writes only under the pod's own directory.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from meshlab.topology import LabPod

OUTBOUND_PORT = 15001
ADMIN_PORT = 15000
ROUTING_FILE = "lab-routing.curlrc"


@dataclass(frozen=True)
class Route:
    """One service port a client can call: its names, port, and where the bytes should go."""

    hosts: tuple[str, ...]
    port: int
    target_ip: str
    target_port: int


def pod_dir(state_dir: Path, namespace: str, name: str) -> Path:
    return state_dir / "pods" / namespace / name


def dns_names(
    service: str, namespace: str, client_namespace: str, cluster_domain: str = "cluster.local"
) -> tuple[str, ...]:
    """Names Kubernetes DNS resolves for a service from a client namespace (search path order)."""
    names = [
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{cluster_domain}",
    ]
    if namespace == client_namespace:
        names.insert(0, service)
    return tuple(names)


def curlrc_text(routes: Iterable[Route], source_ip: str | None = None) -> str:
    lines = ["# written by the meshprober lab: stands in for istio-init's iptables redirect"]
    if source_ip:
        # Connections leave from the pod's own address, as they would from a pod network namespace.
        lines.append(f'interface = "host!{source_ip}"')
    for route in routes:
        for host in route.hosts:
            lines.append(f'connect-to = "{host}:{route.port}:{route.target_ip}:{route.target_port}"')
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def real_curl(exclude: Path | None = None) -> str:
    """The machine's curl, never a shim directory's own (else the shim would exec itself)."""
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)
    if exclude is not None:
        path = [p for p in path if Path(p).resolve() != exclude.resolve()]
    found = shutil.which("curl", path=os.pathsep.join(path))
    return found or "/usr/bin/curl"


def curl_shim_text(routing: Path, curl: str) -> str:
    """A POSIX sh `curl` that always reads `routing` (curl honours -q only as the first argument, so
    it is kept first, and the routing file comes right after it). `--next` resets per-transfer
    options such as connect-to, so the file is read again after each one: iptables redirects every
    connection of the pod, not only a run's first transfer."""
    routing_arg = shlex.quote(str(routing))
    return (
        "#!/bin/sh\n"
        "# written by the meshprober lab: stands in for istio-init's iptables redirect\n"
        'if [ "$1" = "-q" ]; then shift; fi\n'
        "n=$#\n"
        'for a in "$@"; do\n'
        '  set -- "$@" "$a"\n'
        f'  case "$a" in --next|-:) set -- "$@" -K {routing_arg} ;; esac\n'
        "done\n"
        'shift "$n"\n'
        f'exec {shlex.quote(curl)} -q -K {routing_arg} "$@"\n'
    )


def write_app_env(directory: Path, routes: Iterable[Route], source_ip: str | None = None) -> Path:
    """Write the app container's routing file and `curl` shim; returns the bin directory (first on PATH)."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    routing = directory / ROUTING_FILE
    _atomic_write(routing, curlrc_text(routes, source_ip))
    _atomic_write(bin_dir / "curl", curl_shim_text(routing, real_curl(exclude=bin_dir)), 0o755)
    return bin_dir


def write_proxy_env(directory: Path, pod_ip: str) -> Path:
    """Install the `pilot-agent` shim; returns its bin directory (to put first on PATH)."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    # -S (no site: no .pth processing, no editable finder) with the package's own directory on
    # PYTHONPATH: istio's pilot-agent is a Go binary that answers `request` in milliseconds, and a
    # full interpreter start (~0.15 s) would make every `kubectl exec ... pilot-agent request` of
    # the lab, ours and a user's, that much slower than a real mesh's.
    root = Path(__file__).resolve().parent.parent
    script = (
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(str(root))} "
        f'exec {shlex.quote(sys.executable)} -S -m meshlab.pilot_agent --pod-ip {shlex.quote(pod_ip)} "$@"\n'
    )
    _atomic_write(bin_dir / "pilot-agent", script, 0o755)
    return bin_dir


def container_env(
    pod: LabPod, container: str, directory: Path, extra_path: Path | None = None
) -> dict[str, str]:
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    if extra_path is not None:
        path = f"{extra_path}:{path}"
    env: Mapping[str, str] = {
        "PATH": path,
        "HOME": str(directory),
        "CURL_HOME": str(directory),
        "HOSTNAME": pod.name,
        "POD_NAME": pod.name,
        "POD_NAMESPACE": pod.namespace,
        "INSTANCE_IP": pod.ip,
        "LANG": "C.UTF-8",
    }
    if container == "istio-proxy":
        env = {**env, "ENVOY_ADMIN": f"{pod.ip}:{ADMIN_PORT}"}
    return dict(env)
