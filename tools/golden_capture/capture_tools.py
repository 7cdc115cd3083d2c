"""Evidence-gathering helpers for the golden capture: run curl as a pod would, read logs, stats, dumps.

Loopback only; every wait bounded. Does not decide scenarios or write bundles (capture.py does).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from agent.probe.argv import build_curl_argv
from tools.golden_capture.golden_pod import GoldenPod

CURL_MAX_TIME_S = 10.0
LOG_WAIT_S = 3.0


def curl_argv(url: str, request_id: str, max_time_s: float = CURL_MAX_TIME_S) -> list[str]:
    """The probe argv contract shared with the curl parser (agent.probe.argv), unchanged."""
    return build_curl_argv(url, request_id=request_id, timeout_s=max_time_s)


@dataclass(frozen=True)
class CurlRun:
    stdout: str
    stderr: str
    exit_code: int


def routed(argv: list[str], curl_home: Path) -> list[str]:
    """argv with the lab's routing file read explicitly: the probe's `-q` (kept first, where curl
    honours it) skips `curl_home/.curlrc`, which stands in for iptables here."""
    rest = argv[2:] if argv[1:2] == ["-q"] else argv[1:]
    return [argv[0], "-q", "-K", str(curl_home / ".curlrc"), *rest]


def run_curl(argv: list[str], curl_home: Path, timeout_s: float = 30.0) -> CurlRun:
    argv = routed(argv, curl_home)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CURL_HOME": str(curl_home),
        "HOME": str(curl_home),
    }
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout_s, check=False)
    return CurlRun(p.stdout, p.stderr, p.returncode)


def start_curl(argv: list[str], curl_home: Path) -> subprocess.Popen[str]:
    argv = routed(argv, curl_home)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CURL_HOME": str(curl_home),
        "HOME": str(curl_home),
    }
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, env=env)


def wait_log_lines(pod: GoldenPod, request_id: str, timeout_s: float = LOG_WAIT_S) -> list[str]:
    """Lines of the pod's access log carrying request_id (bounded wait for Envoy's flush)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [ln for ln in pod.access_log.read_text().splitlines() if request_id in ln]
        if lines or time.monotonic() >= deadline:
            return lines
        time.sleep(0.1)


def bundle_log(pod: GoldenPod, request_id: str, others: int = 2) -> str:
    """The request's lines plus up to `others` unrelated lines, in file order."""
    lines = pod.access_log.read_text().splitlines()
    keep, extra = [], 0
    for ln in lines:
        if request_id in ln:
            keep.append(ln)
        elif extra < others:
            keep.append(ln)
            extra += 1
    return "".join(ln + "\n" for ln in keep)


NOISE_STATS = ("http.admin.", "listener.admin.", "http.async-client.", "server.", "runtime.", "workers.")


def trim_stats(text: str, keep: str) -> str:
    """Drop the admin's own counters and zero values (except the probed cluster's) to keep bundles small."""
    out = []
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        if name.startswith(NOISE_STATS):
            continue
        if value.strip() in ("0", "No recorded values") and keep not in name:
            continue
        out.append(line + "\n")
    return "".join(out)


def cluster_dump(pod: GoldenPod, cluster_name: str) -> str:
    regex = urllib.parse.quote(re.escape(cluster_name), safe="")
    return pod.admin(f"config_dump?resource=dynamic_active_clusters&name_regex={regex}")


def wait_stat_at_least(pod: GoldenPod, stat: str, minimum: int, timeout_s: float = 3.0) -> bool:
    """Poll the admin until gauge `stat` reaches `minimum` (bounded); False on timeout."""
    deadline = time.monotonic() + timeout_s
    prefix = stat + ": "
    while time.monotonic() < deadline:
        for ln in pod.admin("stats").splitlines():
            if ln.startswith(prefix) and int(ln[len(prefix) :]) >= minimum:
                return True
        time.sleep(0.05)
    return False
