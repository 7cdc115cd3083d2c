"""Shared helpers for the benchmarks: the lab as a separate process, the commands to run, /proc readings.

The lab runs via `meshprober lab up --state-dir D` (its own process tree), so what a benchmark
measures never shares a Python process with the lab's emulator. `lab()` always takes it down.
Only loopback; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LAB_UP_TIMEOUT_S = 180.0
AGENT_READY_TIMEOUT_S = 60.0


def meshprober_argv() -> list[str]:
    """The `meshprober` console script of this Python (as a user runs it), else `python -m agent`."""
    script = Path(sys.executable).parent / "meshprober"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "agent"]


def kubectl() -> str:
    sys.path.insert(0, str(REPO))
    from meshlab.kubectl import kubectl_path

    return str(kubectl_path())


def lab_env(state_dir: Path) -> dict[str, str]:
    """Environment for a client of the lab: its kubeconfig and a private kubectl discovery cache."""
    return dict(os.environ, KUBECONFIG=str(state_dir / "kubeconfig"), KUBECACHEDIR=str(state_dir / "kcache"))


@contextlib.contextmanager
def lab(
    state_dir: Path, scenario: str = "seed", resources: Path | None = None, api_latency_ms: float = 0.0
) -> Iterator[dict[str, str]]:
    """`meshprober lab up` in a subprocess (with `--resources` on top of the scenario, if given, and
    an injected API-server latency per call); yields the client env; `lab down` on the way out."""
    state_dir.mkdir(parents=True, exist_ok=True)
    up = [*meshprober_argv(), "lab", "up", "--scenario", scenario, "--state-dir", str(state_dir)]
    up += ["--resources", str(resources)] if resources is not None else []
    up += ["--api-latency-ms", f"{api_latency_ms:g}"] if api_latency_ms else []
    proc = subprocess.run(up, capture_output=True, text=True, timeout=LAB_UP_TIMEOUT_S, check=False)
    try:
        if proc.returncode != 0:
            raise SystemExit(f"lab up failed (exit {proc.returncode}): {proc.stderr.strip()}")
        yield lab_env(state_dir)
    finally:
        down = [*meshprober_argv(), "lab", "down", "--state-dir", str(state_dir)]
        subprocess.run(down, capture_output=True, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_agent(
    config: dict[str, Any], workdir: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """`meshprober run --config` (config's api.listen must be a loopback port) as its own process,
    until its /metrics answers; terminated on the way out. Its log is workdir/agent.log."""
    import yaml

    port = int(str(config["api"]["listen"]).rsplit(":", 1)[1])
    path = workdir / "agent.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [*meshprober_argv(), "run", "--config", str(path), "--log-level", "ERROR"]
    argv += ["--kubeconfig", env["KUBECONFIG"]]
    with (workdir / "agent.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        _wait_metrics(port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_metrics(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + AGENT_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the agent exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the agent's /metrics did not answer within {AGENT_READY_TIMEOUT_S:.0f}s")


def lab_pids(state_dir: Path) -> list[int]:
    """The lab daemon and every process under it (for CPU accounting of the 'other side')."""
    import json

    try:
        state = json.loads((state_dir / "state.json").read_text())
    except (OSError, ValueError):
        return []
    root = state.get("pid")
    return [root, *descendants(root)] if isinstance(root, int) else []


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of one process (0 when it is gone); `children` adds its reaped children's
    (cutime + cstime: the short-lived curl/pilot-agent processes an exec starts)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (or VmHWM, the peak) of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0
