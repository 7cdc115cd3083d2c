"""Shared helpers for the end-to-end tests: subprocess CLI runs, leftover-process checks, metrics.

Every wait is bounded. Labs come from tests/support/lab.run_lab (one lab fixture for every suite).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
MESHPROBER = [sys.executable, "-m", "agent"]
TESTDATA = Path(__file__).resolve().parents[1] / "e2e" / "testdata"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes_mentioning(marker: str) -> list[str]:
    """argv of live processes (not zombies) whose command line contains `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in argv and state != "Z":
            found.append(f"{proc.name}: {argv[:200]}")
    return found


def wait_for(what: str, fn: Callable[[], T | None], timeout: float, every: float = 0.3) -> T:
    """Poll fn until it returns something truthy; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MESHPROBER, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def samples(text: str, metric: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample named `metric` in a Prometheus exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == metric
    ]


def by_path(text: str, metric: str) -> dict[str, float]:
    """path label -> value of `metric`."""
    return {labels["path"]: value for labels, value in samples(text, metric) if "path" in labels}


def check_broken(item: dict[str, Any]) -> None:
    """A seed path's diagnosis: the mTLS verdict, high, the DR and PA named, the LEAST_CONN-keeping patch."""
    assert item["verdict"] == "mtls_plaintext_to_strict", item["summary"]
    assert item["confidence"] == "high"
    assert item["destination_rule"] == "bookinfo/destrule-productpage"
    assert item["peer_authentication"] == "bookinfo/default"
    patch = yaml.safe_load(item["remedy"]["patch"])
    policy = patch["spec"]["trafficPolicy"]
    assert policy["tls"]["mode"] == "ISTIO_MUTUAL"
    assert policy["loadBalancer"]["simple"] == "LEAST_CONN"
