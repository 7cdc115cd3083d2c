"""Capture golden evidence bundles from real Envoy sidecars (DESIGN.md's evidence-bundle format).

`python -m agent.lab.capture --out DIR [--only NAME]` runs each golden scenario on loopback, probes
with the shared curl argv contract, and writes probe.json, curl.*, access logs (the request's lines
plus a few unrelated ones), the filtered client config_dump, stats snapshots and resources/*.yaml.
Never writes private keys or tokens into a bundle.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from agent.lab.golden_lab import SERVICE_PORT, GoldenLab
from agent.lab.golden_resources import CLIENT_APP, CLIENT_NS, CLIENT_POD, resources
from agent.lab.golden_scenarios import SCENARIOS, GoldenScenario
from agent.lab.pod import LabPod

WRITEOUT_MARKER = "__MESHPROBER_WRITEOUT__"
CURL_MAX_TIME = "10"
LOG_WAIT_S = 3.0
FIRST_SUBNET = 100


def curl_argv(url: str, request_id: str, max_time: str = CURL_MAX_TIME) -> list[str]:
    """The probe argv contract shared with the curl parser; keep it byte-for-byte."""
    return [
        "curl",
        "-sS",
        "-v",
        "--max-time",
        max_time,
        "-H",
        f"x-request-id: {request_id}",
        "-w",
        "\n" + WRITEOUT_MARKER + "%{json}",
        url,
    ]


@dataclass(frozen=True)
class CurlRun:
    stdout: str
    stderr: str
    exit_code: int


def run_curl(argv: list[str], curl_home: Path, timeout_s: float = 30.0) -> CurlRun:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CURL_HOME": str(curl_home),
        "HOME": str(curl_home),
    }
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout_s, check=False)
    return CurlRun(p.stdout, p.stderr, p.returncode)


def start_curl(argv: list[str], curl_home: Path) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CURL_HOME": str(curl_home),
        "HOME": str(curl_home),
    }
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, env=env)


def wait_log_lines(pod: LabPod, request_id: str, timeout_s: float = LOG_WAIT_S) -> list[str]:
    """Lines of the pod's access log carrying request_id (bounded wait for Envoy's flush)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [ln for ln in pod.access_log.read_text().splitlines() if request_id in ln]
        if lines or time.monotonic() >= deadline:
            return lines
        time.sleep(0.1)


def bundle_log(pod: LabPod, request_id: str, others: int = 2) -> str:
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


def cluster_dump(pod: LabPod, cluster_name: str) -> str:
    regex = urllib.parse.quote(re.escape(cluster_name), safe="")
    return pod.admin(f"config_dump?resource=dynamic_active_clusters&name_regex={regex}")


def wait_stat_at_least(pod: LabPod, stat: str, minimum: int, timeout_s: float = 3.0) -> bool:
    """Poll the admin until gauge `stat` reaches `minimum` (bounded); False on timeout."""
    deadline = time.monotonic() + timeout_s
    prefix = stat + ": "
    while time.monotonic() < deadline:
        for ln in pod.admin("stats").splitlines():
            if ln.startswith(prefix) and int(ln[len(prefix) :]) >= minimum:
                return True
        time.sleep(0.05)
    return False


def capture(sc: GoldenScenario, out_dir: Path, state_dir: Path, subnet: int) -> Path:
    """Run one scenario and write its bundle to out_dir/sc.name; returns the bundle path."""
    bundle = out_dir / sc.name
    with GoldenLab(sc, state_dir, subnet) as lab:
        url = f"http://{sc.host}:{SERVICE_PORT}/productpage"
        for _ in range(sc.warmups):
            run_curl(curl_argv(url, str(uuid.uuid4())), lab.curl_home)
        cluster = lab.outbound_service().cluster_name
        # Fill the connection pool first: one slow request active, the next one pending.
        slow = []
        for n in range(sc.slow_concurrent):
            slow.append(start_curl(curl_argv(url, str(uuid.uuid4())), lab.curl_home))
            gauge = "upstream_rq_active" if n == 0 else "upstream_rq_pending_active"
            wait_stat_at_least(lab.client, f"cluster.{cluster}.{gauge}", 1)
        pods = {
            "client": lab.client if sc.client_sidecar else None,
            "server": lab.server if sc.server_sidecar and not sc.no_endpoints else None,
        }
        before = {
            k: trim_stats(p.admin("stats"), cluster if k == "client" else "inbound|")
            for k, p in pods.items()
            if p
        }
        request_id = str(uuid.uuid4())
        start = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        run = run_curl(curl_argv(url, request_id), lab.curl_home)
        for proc in slow:
            proc.wait(timeout=15)
        for p in pods.values():
            if p:
                wait_log_lines(p, request_id, LOG_WAIT_S if p is lab.client else 1.0)
        after = {
            k: trim_stats(p.admin("stats"), cluster if k == "client" else "inbound|")
            for k, p in pods.items()
            if p
        }
        bundle.mkdir(parents=True, exist_ok=True)
        for old in bundle.glob("**/*"):
            if old.is_file():
                old.unlink()
        probe = {
            "source": {
                "namespace": CLIENT_NS,
                "workload": CLIENT_APP,
                "pod": CLIENT_POD,
                "container": CLIENT_APP,
            },
            "target": url,
            "request_id": request_id,
            "expected_status": 200,
            "start_time": start,
        }
        (bundle / "probe.json").write_text(json.dumps(probe, indent=2) + "\n")
        (bundle / "curl.stdout").write_text(run.stdout)
        (bundle / "curl.stderr").write_text(run.stderr)
        (bundle / "curl.exit").write_text(f"{run.exit_code}\n")
        for role, p in pods.items():
            if p:
                (bundle / f"{role}-access.log").write_text(bundle_log(p, request_id))
                (bundle / f"{role}-stats.before").write_text(before[role])
                (bundle / f"{role}-stats.after").write_text(after[role])
        if pods["client"]:
            (bundle / "client-config-dump.json").write_text(cluster_dump(lab.client, cluster))
        res_dir = bundle / "resources"
        res_dir.mkdir(exist_ok=True)
        for name, obj in resources(sc, lab.client.ip, lab.server.ip).items():
            (res_dir / name).write_text(yaml.safe_dump(obj, sort_keys=False))
    return bundle


def write_index(out_dir: Path, scenarios: tuple[GoldenScenario, ...]) -> None:
    """EXPECTED.yaml (bundle: verdict) for every scenario ever captured into out_dir."""
    path = out_dir / "EXPECTED.yaml"
    expected: dict[str, str] = {}
    if path.exists():
        expected = yaml.safe_load(path.read_text()) or {}
    for sc in scenarios:
        expected[sc.name] = sc.expected_verdict
    header = (
        "# bundle_name: expected_verdict (DESIGN.md vocabulary); written by python -m agent.lab.capture\n"
    )
    path.write_text(header + yaml.safe_dump(dict(sorted(expected.items())), sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agent.lab.capture", description=__doc__)
    p.add_argument("--out", required=True, type=Path, help="directory for the bundles")
    p.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    args = p.parse_args(argv)
    known = {sc.name: (i, sc) for i, sc in enumerate(SCENARIOS)}
    unknown = [n for n in args.only if n not in known]
    if unknown:
        print(f"--only: unknown scenario(s) {unknown}; known: {sorted(known)}", file=sys.stderr)
        return 2
    chosen = [known[n] for n in args.only] if args.only else list(known.values())
    args.out.mkdir(parents=True, exist_ok=True)
    for index, sc in chosen:
        with tempfile.TemporaryDirectory(prefix=f"meshprober-capture-{sc.name}-") as tmp:
            bundle = capture(sc, args.out, Path(tmp), FIRST_SUBNET + index)
            print(f"{sc.name}: {bundle}")
    write_index(args.out, tuple(sc for _, sc in chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
