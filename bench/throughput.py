"""Sustained probe throughput of the agent on the seed lab, with its CPU per probe and memory.

Starts the seed lab (`meshprober lab up`, its own process tree) and the agent (`meshprober run
--config`, another process) with N generated paths (default 500) spread over the lab's six sidecar
workloads as sources and its three services as targets (2 of the 18 pairs hit the seed's
DISABLE-vs-STRICT break, so about 1 path in 9 takes the full failure diagnosis), a short interval so
the offered load is high, and bounded `limits.max_concurrent_probes`. After a warm-up it measures,
over a fixed window, probe executions per minute (delta of `meshprober_probes_total` on the agent's
/metrics), the agent's CPU seconds per probe (utime+stime from /proc/PID/stat) and its RSS
(VmRSS, and the peak VmHWM). The lab's emulator and Envoys run on the same cores; their CPU share
is printed too.

    python bench/throughput.py [--paths 500] [--interval 20] [--concurrency 16] [--window 60]

Final line: `throughput: probes_per_min=.. rss_mb=.. cpu_ms_per_probe=.. paths=..`
(targets on 2 cores: >= 600 probes/min, RSS < 150 MB with 500 paths).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_proc import cpu_seconds, free_port, lab, lab_pids, rss_mb, running_agent

SOURCES = [
    ("bookinfo", "traffic-generator"),
    ("traffic-generator", "traffic-generator"),
    ("load-test", "traffic-generator"),
    ("bookinfo", "productpage"),
    ("bookinfo", "reviews"),
    ("bookinfo", "details"),
]
TARGETS = ["productpage", "reviews", "details"]
SAMPLE = re.compile(r"^(meshprober_[a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$")


def agent_config(
    paths: int, interval: float, concurrency: int, evidence: Path, port: int
) -> dict[str, object]:
    generated = []
    for i in range(paths):
        ns, workload = SOURCES[i % len(SOURCES)]
        target = TARGETS[(i // len(SOURCES)) % len(TARGETS)]
        generated.append(
            {
                "name": f"p{i:04d}-{ns}-{workload}-to-{target}",
                "from": {"namespace": ns, "workload": workload},
                "to": {"service": target, "namespace": "bookinfo", "port": 9080, "path": f"/bench/{i}"},
            }
        )
    return {
        "defaults": {"interval": f"{interval:g}s", "timeout": "5s", "expect": [200, 404]},
        "paths": generated,
        "limits": {"max_concurrent_probes": concurrency, "min_interval": "5s", "max_paths": max(paths, 1)},
        "api": {"listen": f"127.0.0.1:{port}"},
        "evidence": {"dir": str(evidence), "keep_per_path": 2},
    }


def scrape(port: int) -> dict[str, float]:
    """Sum of every meshprober_* sample by name (labels summed away), plus errors by stage."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        out[name] = out.get(name, 0.0) + value
        if name == "meshprober_errors_total":
            stage = re.search(r'stage="([^"]+)"', labels)
            key = f"errors:{stage.group(1) if stage else '?'}"
            out[key] = out.get(key, 0.0) + value
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=500)
    parser.add_argument("--interval", type=float, default=20.0, help="seconds between probes of one path")
    parser.add_argument("--concurrency", type=int, default=16, help="limits.max_concurrent_probes")
    parser.add_argument("--window", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before the window starts")
    args = parser.parse_args()
    if not (1 <= args.paths <= 20000 and 5 <= args.interval <= 3600 and 1 <= args.concurrency <= 256):
        parser.error("--paths 1-20000, --interval 5-3600, --concurrency 1-256")
    if not (5 <= args.window <= 3600 and 0 <= args.warmup <= 600):
        parser.error("--window 5-3600, --warmup 0-600")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"starting the seed lab in {tmp / 'lab'} ...", flush=True)
        with lab(tmp / "lab") as env:
            port = free_port()
            cfg = agent_config(args.paths, args.interval, args.concurrency, tmp / "evidence", port)
            with running_agent(cfg, tmp, env) as agent:
                print(
                    f"agent pid {agent.pid} up with {args.paths} paths; warm-up {args.warmup:.0f}s ...",
                    flush=True,
                )
                time.sleep(args.warmup)
                lab_tree = lab_pids(tmp / "lab")
                before, cpu0, lab0, t0 = (
                    scrape(port),
                    cpu_seconds(agent.pid),
                    _cpu(lab_tree),
                    time.monotonic(),
                )
                time.sleep(args.window)
                after, cpu1, lab1, t1 = scrape(port), cpu_seconds(agent.pid), _cpu(lab_tree), time.monotonic()
                rss, peak = rss_mb(agent.pid), rss_mb(agent.pid, "VmHWM")
    probes = after.get("meshprober_probes_total", 0) - before.get("meshprober_probes_total", 0)
    minutes = (t1 - t0) / 60
    per_min = probes / minutes
    cpu_ms = (cpu1 - cpu0) * 1000 / probes if probes else float("nan")
    offered = args.paths * 60 / args.interval
    errors = {
        k[7:]: int(after[k] - before.get(k, 0))
        for k in after
        if k.startswith("errors:") and after[k] > before.get(k, 0)
    }
    print(f"window {t1 - t0:.0f}s: {probes:.0f} probes ({per_min:.0f}/min; offered {offered:.0f}/min)")
    print(
        f"agent: {cpu1 - cpu0:.1f} CPU s in the window ({(cpu1 - cpu0) / (t1 - t0) * 100:.0f}% of one core), "
        f"{cpu_ms:.1f} ms per probe; RSS {rss:.0f} MB (peak {peak:.0f} MB)"
    )
    print(
        f"lab ({len(lab_tree)} processes: emulator, Envoys, apps, + the curl/pilot-agent each exec starts; same cores): "
        f"{lab1 - lab0:.1f} CPU s ({(lab1 - lab0) / (t1 - t0) * 100:.0f}% of one core)"
    )
    print(f"agent-side errors in the window by stage: {errors or 'none'}")
    print(
        f"throughput: probes_per_min={per_min:.0f} rss_mb={rss:.0f} cpu_ms_per_probe={cpu_ms:.1f} paths={args.paths}"
    )
    return 0


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p, children=True) for p in pids)


if __name__ == "__main__":
    raise SystemExit(main())
