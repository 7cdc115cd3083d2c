"""Time one failing path fully diagnosed by meshprober against the manual kubectl sequence, on the
seed lab with the API server answering at loopback speed and with 100 ms injected per API call.

For each latency (`--latencies`, default 0 and 100 ms; `meshprober lab up --api-latency-ms`, which
models a remote control plane: every API call, exec included, waits that long first) it starts the
seed lab and an agent, then alternates over N rounds (the order flips every round) between
  (a) agent: a warm agent's `POST /api/v1/probe` (the full diagnosis: probe, confirming probe, the
      sidecar's cluster config, both access logs, the policy view from its watch caches), timed
      from a plain HTTP client (urllib) in this process, as a chat-ops bot or a UI would call it;
  (b) cli: `meshprober probe --from load-test/traffic-generator --to URL --json`, a fresh process;
  (c) manual: what a user runs today, one command after another, with the pinned kubectl:
      `kubectl exec POD -- curl -sS -v URL`, `kubectl logs POD -c istio-proxy`,
      `kubectl exec POD -c istio-proxy -- pilot-agent request GET config_dump`,
      `kubectl get destinationrules,peerauthentications -A -o yaml`.
Only machine time is measured: reading the output and reasoning about which rule wins is not
counted, so the manual side is the lower bound of a real investigation. The pod name is looked up
once (not timed), also in the manual side's favour. One untimed warm-up round of each side fills
the kubectl discovery cache and the page cache; the agent's start is not timed.

    python bench/diagnose_vs_manual.py [--rounds 5] [--latencies 0,100]

Final line: `diagnose_vs_manual: agent_ratio_0ms=<a> agent_ratio_100ms=<b> cli_ratio_100ms=<c>
manual_s_100ms=<s>` (ratios of medians to the manual median at that latency; targets a <= 0.5,
b <= 0.35, c <= 1.0).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_proc import free_port, kubectl, lab, meshprober_argv, running_agent

SOURCE = ("load-test", "traffic-generator")
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
STEP_TIMEOUT_S = 60.0
TOKEN_ENV = "MESHPROBER_TOKEN"  # read by `meshprober probe --agent`; the agent's api.token_env


SIDES = ("agent", "cli", "manual")


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, env=env, capture_output=True, timeout=STEP_TIMEOUT_S, check=False)


def meshprober_side(env: dict[str, str], agent_url: str | None = None) -> tuple[float, str]:
    argv = [*meshprober_argv(), "probe", "--from", "/".join(SOURCE), "--to", URL, "--json"]
    argv += ["--agent", agent_url] if agent_url else []
    start = time.perf_counter()
    proc = _run(argv, env)
    elapsed = time.perf_counter() - start
    try:
        verdict = str(json.loads(proc.stdout).get("verdict"))
    except ValueError:
        raise SystemExit(
            f"meshprober probe failed (exit {proc.returncode}): {proc.stderr.decode()[-500:]}"
        ) from None
    return elapsed, verdict


def agent_config(port: int) -> dict[str, object]:
    """No scheduled paths: the agent only answers on-demand probes (allowed, behind a token)."""
    return {
        "paths": [],
        "api": {
            "listen": f"127.0.0.1:{port}",
            "token_env": TOKEN_ENV,
            "allow_adhoc": True,
            "adhoc_sources": ["/".join(SOURCE)],  # no configured paths, so the source is listed
            "rate_limit": {"requests": 1000, "window": "1m"},
        },
    }


def agent_side(agent_url: str, token: str) -> tuple[float, str]:
    """POST /api/v1/probe to the warm agent from a plain HTTP client; (seconds, verdict)."""
    body = json.dumps({"from": "/".join(SOURCE), "to": URL}).encode()
    req = urllib.request.Request(
        agent_url + "/api/v1/probe",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=STEP_TIMEOUT_S) as resp:  # loopback: the agent's API
        data = json.loads(resp.read())
    elapsed = time.perf_counter() - start
    verdict = data.get("verdict") or (data.get("diagnosis") or {}).get("verdict")
    return elapsed, str(verdict)


def manual_steps(k: str, pod: str) -> list[list[str]]:
    ns = SOURCE[0]
    return [
        [k, "exec", "-n", ns, pod, "--", "curl", "-sS", "-v", URL],
        [k, "logs", "-n", ns, pod, "-c", "istio-proxy"],
        [k, "exec", "-n", ns, pod, "-c", "istio-proxy", "--", "pilot-agent", "request", "GET", "config_dump"],
        [k, "get", "destinationrules,peerauthentications", "-A", "-o", "yaml"],
    ]


def manual_side(env: dict[str, str], steps: list[list[str]]) -> tuple[float, int]:
    start = time.perf_counter()
    out_bytes = 0
    for argv in steps:
        proc = _run(argv, env)
        if proc.returncode not in (0, 56):  # curl 56: the seed's reset, the failure being investigated
            raise SystemExit(f"{' '.join(argv[1:4])} failed (exit {proc.returncode}): {proc.stderr[-300:]!r}")
        out_bytes += len(proc.stdout) + len(proc.stderr)
    return time.perf_counter() - start, out_bytes


def find_pod(k: str, env: dict[str, str]) -> str:
    ns, app = SOURCE
    proc = _run(
        [k, "get", "pods", "-n", ns, "-l", f"app={app}", "-o", "jsonpath={.items[0].metadata.name}"], env
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"no {ns}/{app} pod: {proc.stderr.decode()[-300:]}")
    return proc.stdout.decode().strip()


def measure(latency_ms: float, rounds: int, tmp: Path) -> dict[str, list[float]]:
    """One lab at this injected latency, one agent; `rounds` alternated rounds of every side."""
    state_dir = tmp / f"lab-{latency_ms:g}ms"
    print(f"starting the seed lab with {latency_ms:g} ms per API call in {state_dir} ...", flush=True)
    token = secrets.token_urlsafe(24)
    with lab(state_dir, api_latency_ms=latency_ms) as lab_env:
        env = dict(lab_env, **{TOKEN_ENV: token})
        port = free_port()
        workdir = tmp / f"agent-{latency_ms:g}ms"
        workdir.mkdir()
        with running_agent(agent_config(port), workdir, env):
            agent_url = f"http://127.0.0.1:{port}"
            k = kubectl()
            steps = manual_steps(k, find_pod(k, env))
            _, verdict = meshprober_side(env)  # warm-ups, untimed
            _, out_bytes = manual_side(env, steps)
            agent_side(agent_url, token)
            times: dict[str, list[float]] = {side: [] for side in SIDES}
            for i in range(rounds):
                for side in SIDES if i % 2 == 0 else SIDES[::-1]:
                    if side == "cli":
                        elapsed, verdict = meshprober_side(env)
                    elif side == "agent":
                        elapsed, agent_verdict = agent_side(agent_url, token)
                        if agent_verdict != verdict:
                            raise SystemExit(f"the agent said {agent_verdict}, the CLI {verdict}")
                    else:
                        elapsed, out_bytes = manual_side(env, steps)
                    times[side].append(elapsed)
                print(
                    f"  {latency_ms:g} ms round {i + 1}: agent {times['agent'][-1]:.2f}s ({verdict})"
                    f"  cli {times['cli'][-1]:.2f}s  manual {times['manual'][-1]:.2f}s",
                    flush=True,
                )
    for side in SIDES:
        t = times[side]
        print(
            f"  {latency_ms:g} ms {side}: median {statistics.median(t):.2f}s  min {min(t):.2f}s  max {max(t):.2f}s"
        )
    print(f"  manual output to read: {out_bytes} bytes in {len(steps)} commands")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latencies", default="0,100", help="injected ms per API call, comma-separated")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds must be 1-100")
    try:
        latencies = [float(v) for v in args.latencies.split(",")]
    except ValueError:
        parser.error(f"--latencies: not a comma-separated list of numbers: {args.latencies!r}")
    if not latencies or any(not 0 <= v <= 10000 for v in latencies):
        parser.error("--latencies: each value must be 0-10000 ms")
    medians: dict[float, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as tmp:
        for latency in latencies:
            times = measure(latency, args.rounds, Path(tmp))
            medians[latency] = {side: statistics.median(times[side]) for side in SIDES}

    def ratio(latency: float, side: str) -> str:
        m = medians.get(latency)
        return f"{m[side] / m['manual']:.2f}" if m else "nan"

    slow = medians.get(100.0, {})
    print(
        f"diagnose_vs_manual: agent_ratio_0ms={ratio(0.0, 'agent')} agent_ratio_100ms={ratio(100.0, 'agent')}"
        f" cli_ratio_100ms={ratio(100.0, 'cli')} manual_s_100ms={slow.get('manual', float('nan')):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
