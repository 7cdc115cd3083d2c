"""Capture golden evidence bundles from real Envoy sidecars (DESIGN.md's evidence-bundle format).

`python -m tools.golden_capture.capture --out DIR [--only NAME]` runs each golden scenario on loopback, probes
with the shared curl argv contract, and writes probe.json, curl.*, access logs (the request's lines
plus a few unrelated ones), the filtered client config_dump, stats snapshots and resources/*.yaml.
Never writes private keys or tokens into a bundle.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

from agent.errors import MeshproberError
from tools.golden_capture.capture_tools import (
    LOG_WAIT_S,
    bundle_log,
    cluster_dump,
    curl_argv,
    run_curl,
    start_curl,
    trim_stats,
    wait_log_lines,
    wait_stat_at_least,
)
from tools.golden_capture.golden_lab import SERVICE_PORT, GoldenLab
from tools.golden_capture.golden_more import ALL_SCENARIOS
from tools.golden_capture.golden_resources import CLIENT_APP, CLIENT_NS, CLIENT_POD, resources
from tools.golden_capture.golden_scenarios import GoldenScenario

FIRST_SUBNET = 100


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
            "expected_status": sc.expected_status,
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
    header = "# bundle_name: expected_verdict (DESIGN.md vocabulary); written by python -m tools.golden_capture.capture\n"
    path.write_text(header + yaml.safe_dump(dict(sorted(expected.items())), sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.golden_capture.capture", description=__doc__)
    p.add_argument("--out", required=True, type=Path, help="directory for the bundles")
    p.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    args = p.parse_args(argv)
    known = {sc.name: (i, sc) for i, sc in enumerate(ALL_SCENARIOS)}
    unknown = [n for n in args.only if n not in known]
    if unknown:
        print(f"--only: unknown scenario(s) {unknown}; known: {sorted(known)}", file=sys.stderr)
        return 2
    chosen = [known[n] for n in args.only] if args.only else list(known.values())
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"--out {args.out}: cannot create it: {exc.strerror}", file=sys.stderr)
        return 2
    for index, sc in chosen:
        try:
            with tempfile.TemporaryDirectory(prefix=f"meshprober-capture-{sc.name}-") as tmp:
                bundle = capture(sc, args.out, Path(tmp), FIRST_SUBNET + index)
        except (MeshproberError, OSError, TimeoutError, RuntimeError, subprocess.SubprocessError) as exc:
            # The lab stopped its processes on the way out; say which scenario failed and why.
            print(f"{sc.name}: capture failed: {exc}", file=sys.stderr)
            return 1
        print(f"{sc.name}: {bundle}")
    write_index(args.out, tuple(sc for _, sc in chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
