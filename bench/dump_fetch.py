"""The filtered config-dump fetch meshprober makes vs the full dump, through the lab (for config_dump.py).

Starts the seed lab with N extra Services (a namespace `bulk`, no pods: each still becomes an
outbound cluster in every sidecar, as in a real mesh without Sidecar scoping), then alternates, in
this process and through the official client exactly as the pipeline does, between
  - `fetch_clusters_config_dump`: `pilot-agent request GET config_dump?resource=dynamic_active_clusters
    &name_regex=^outbound\\|9080\\|\\|productpage...$` exec'd in the source's istio-proxy;
  - `fetch_full_config_dump`: `pilot-agent request GET config_dump`, what `kubectl exec ... config_dump`
    and `istioctl proxy-config cluster` read.
Both answers are parsed and must hold the productpage cluster, so the two fetch the same fact.
Each sidecar watches one EDS file per cluster, so N is bounded by fs.inotify.max_user_instances.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import yaml
from lab_proc import lab

SOURCE = ("load-test", "traffic-generator")
FQDN, PORT = "productpage.bookinfo.svc.cluster.local", 9080


def bulk_services(directory: Path, count: int) -> Path:
    """A resources dir with namespace `bulk` and `count` Services in it (port 8080, no pods)."""
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bulk"}}]
    for i in range(count):
        name = f"svc-{i:03d}"
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "bulk"},
                "spec": {
                    "selector": {"app": name},
                    "ports": [{"name": "http", "port": 8080, "targetPort": 8080}],
                },
            }
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bulk-services.yaml").write_text(yaml.safe_dump_all(docs))
    return directory


def fetch_figures(workdir: Path, services: int, rounds: int) -> dict[str, float]:
    """Median time of the filtered and the full fetch, and each answer's bytes (the same every round:
    the lab's config does not change while it runs); prints each round."""
    from agent.envoy.config_dump import find_cluster, parse_clusters
    from agent.kube.live import LiveCluster
    from agent.kube.proxy import fetch_clusters_config_dump, fetch_full_config_dump

    resources = bulk_services(workdir / "resources", services)
    print(f"starting the seed lab with {services} extra Services in {workdir / 'lab'} ...", flush=True)
    with (
        lab(workdir / "lab", resources=resources) as env,
        LiveCluster.from_kubeconfig(env["KUBECONFIG"]) as c,
    ):
        ns, workload = SOURCE
        pod = c.workload_pods(ns, workload)[0].name
        sides = {
            "filtered": lambda: fetch_clusters_config_dump(c, ns, pod, FQDN, PORT, timeout=30),
            "full": lambda: fetch_full_config_dump(c, ns, pod, timeout=30),
        }
        times: dict[str, list[float]] = {"filtered": [], "full": []}
        size: dict[str, int] = {}
        for rnd in range(rounds + 1):  # round 0 warms the connection and the page cache, untimed
            for side in ("filtered", "full") if rnd % 2 == 0 else ("full", "filtered"):
                start = time.perf_counter()
                body = sides[side]()
                elapsed = time.perf_counter() - start
                clusters = parse_clusters(body)
                if find_cluster(clusters, FQDN, PORT) is None:
                    raise SystemExit(f"the {side} dump has no {FQDN}:{PORT} cluster")
                if rnd:
                    times[side].append(elapsed)
                    size[side] = len(body)
                    print(
                        f"fetch round {rnd} {side:8}: {elapsed:.3f} s, {len(body)} bytes, {len(clusters)} clusters"
                    )
    t_filtered, t_full = statistics.median(times["filtered"]), statistics.median(times["full"])
    return {
        "filtered_s": t_filtered,
        "full_s": t_full,
        "filtered_bytes": size["filtered"],
        "full_bytes": size["full"],
    }
