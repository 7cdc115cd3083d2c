"""Time `meshprober probe` on the seed lab's failing path against the manual kubectl sequence.

Starts the seed lab as a separate process (`meshprober lab up --state-dir`), then alternates over N
rounds (the order flips every round) between
  (a) `meshprober probe --from load-test/traffic-generator --to URL --json`: a fresh process each
      time, full diagnosis with the cross-check (second probe, sidecar cluster, both access logs,
      policy), as a user runs it;
  (b) what a user runs today, one command after another, with the pinned kubectl:
      `kubectl exec POD -- curl -sS -v URL`, `kubectl logs POD -c istio-proxy`,
      `kubectl exec POD -c istio-proxy -- pilot-agent request GET config_dump`,
      `kubectl get destinationrules,peerauthentications -A -o yaml`.
  (c) `meshprober probe ... --agent URL`: the same probe run by an agent that is already up (warm
      clients, cached policy), the CLI only posting to its API; started once, untimed, like the
      kubectl discovery cache;
  (d) the floor of any Python program built on the official client: a fresh interpreter that only
      runs `import kubernetes` (no kubeconfig, no request). meshprober cannot be faster than this,
      so `floor_ratio` (floor / manual) says which ratios are reachable at all on this machine.
Only machine time is measured: reading the output and reasoning about which rule wins is not
counted, so the manual side is the lower bound of a real investigation. The pod name is looked
up once before the rounds (not timed), also in the manual side's favour. One untimed warm-up
round of each side fills the kubectl discovery cache and the page cache.

    python bench/diagnose_vs_manual.py [--rounds 5] [--state-dir DIR]

Final line: `diagnose_vs_manual: ratio=<meshprober median / manual median> meshprober_s=.. manual_s=..
agent_s=.. agent_ratio=.. client_import_s=.. floor_ratio=<client import median / manual median>`
(target: ratio <= 0.5).
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_proc import free_port, kubectl, lab, meshprober_argv, running_agent

SOURCE = ("load-test", "traffic-generator")
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
STEP_TIMEOUT_S = 60.0
TOKEN_ENV = "MESHPROBER_TOKEN"  # read by `meshprober probe --agent`; the agent's api.token_env


SIDES = ("meshprober", "manual", "agent", "floor")


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


def floor_side(env: dict[str, str]) -> float:
    """A fresh interpreter importing the official client, as `meshprober probe` must, and nothing else."""
    start = time.perf_counter()
    proc = _run([sys.executable, "-c", "import kubernetes"], env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"import kubernetes failed: {proc.stderr.decode()[-300:]}")
    return elapsed


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--state-dir", type=Path, default=None, help="lab state dir (default: a temp dir)")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds must be 1-100")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as tmp:
        state_dir = (args.state_dir or Path(tmp) / "lab").resolve()
        print(f"starting the seed lab in {state_dir} ...", flush=True)
        with lab(state_dir) as lab_env:
            env = dict(lab_env, **{TOKEN_ENV: secrets.token_urlsafe(24)})
            port = free_port()
            with running_agent(agent_config(port), Path(tmp), env):
                agent_url = f"http://127.0.0.1:{port}"
                k = kubectl()
                steps = manual_steps(k, find_pod(k, env))
                _, verdict = meshprober_side(env)  # warm-ups, untimed
                _, out_bytes = manual_side(env, steps)
                meshprober_side(env, agent_url)
                floor_side(env)
                times: dict[str, list[float]] = {side: [] for side in SIDES}
                for i in range(args.rounds):
                    for side in SIDES if i % 2 == 0 else SIDES[::-1]:
                        if side == "meshprober":
                            elapsed, verdict = meshprober_side(env)
                        elif side == "agent":
                            elapsed, agent_verdict = meshprober_side(env, agent_url)
                            if agent_verdict != verdict:
                                raise SystemExit(f"the agent said {agent_verdict}, the CLI {verdict}")
                        elif side == "manual":
                            elapsed, out_bytes = manual_side(env, steps)
                        else:
                            elapsed = floor_side(env)
                        times[side].append(elapsed)
                    print(
                        f"round {i + 1}: meshprober {times['meshprober'][-1]:.2f}s ({verdict})"
                        f"  via agent {times['agent'][-1]:.2f}s  manual {times['manual'][-1]:.2f}s"
                        f"  import kubernetes {times['floor'][-1]:.2f}s",
                        flush=True,
                    )
    mesh, manual, via_agent, floor = (times[side] for side in SIDES)
    m_mesh, m_manual, m_floor = statistics.median(mesh), statistics.median(manual), statistics.median(floor)
    m_agent = statistics.median(via_agent)
    print(
        f"meshprober probe: median {m_mesh:.2f}s  min {min(mesh):.2f}s  max {max(mesh):.2f}s  verdict {verdict}"
    )
    print(
        f"manual sequence ({len(steps)} kubectl commands, {out_bytes} bytes of output to read): "
        f"median {m_manual:.2f}s  min {min(manual):.2f}s  max {max(manual):.2f}s"
    )
    print(
        f"meshprober probe --agent (a running agent does the work): median {m_agent:.2f}s  "
        f"min {min(via_agent):.2f}s  max {max(via_agent):.2f}s"
    )
    print(
        f"fresh Python importing the official client (the floor of any CLI built on it): "
        f"median {m_floor:.2f}s  min {min(floor):.2f}s  max {max(floor):.2f}s"
    )
    print(
        f"diagnose_vs_manual: ratio={m_mesh / m_manual:.2f} meshprober_s={m_mesh:.2f} manual_s={m_manual:.2f}"
        f" agent_s={m_agent:.2f} agent_ratio={m_agent / m_manual:.2f}"
        f" client_import_s={m_floor:.2f} floor_ratio={m_floor / m_manual:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
