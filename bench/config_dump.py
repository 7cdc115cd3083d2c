"""Benchmark parse_clusters against a bare json.loads of the same ~50 MB Envoy config dump.

Generates a realistic Istio sidecar dump (thousands of outbound clusters: auto-mTLS
transport_socket_matches, explicit ISTIO_MUTUAL with DestinationRule metadata, plaintext,
subsets, plus include_eds endpoints) in a temp dir, then measures each side in its own fresh
subprocess (alternating json / parse, several rounds): wall time of one call, and peak traced
memory (tracemalloc) of a second call. Then, through the lab (bench/dump_fetch.py), the bytes
and time of the filtered fetch meshprober makes (one cluster) against the full dump. Prints the
figures and a final line `config_dump: parse_ratio=X peak_ratio=Y filtered_bytes_ratio=Z
filtered_time_ratio=W` (targets: parse_ratio < 2, peak_ratio < 3).

    python bench/config_dump.py [--size-mb 50] [--rounds 3] [--lab-services 100 | 0 to skip the lab]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SDS = {
    "api_config_source": {
        "api_type": "GRPC",
        "grpc_services": [{"envoy_grpc": {"cluster_name": "sds-grpc"}}],
        "set_node_on_first_message_only": True,
        "transport_api_version": "V3",
    },
    "initial_fetch_timeout": "0s",
    "resource_api_version": "V3",
}


def _tls(host: str, port: int, subset: str, ns: str) -> dict[str, Any]:
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "common_tls_context": {
                "tls_params": {
                    "tls_minimum_protocol_version": "TLSv1_2",
                    "tls_maximum_protocol_version": "TLSv1_3",
                },
                "alpn_protocols": ["istio-peer-exchange", "istio"],
                "tls_certificate_sds_secret_configs": [{"name": "default", "sds_config": SDS}],
                "combined_validation_context": {
                    "default_validation_context": {
                        "match_subject_alt_names": [{"exact": f"spiffe://cluster.local/ns/{ns}/sa/default"}]
                    },
                    "validation_context_sds_secret_config": {"name": "ROOTCA", "sds_config": SDS},
                },
            },
            "sni": f"outbound_.{port}_.{subset}_.{host}",
        },
    }


def _cluster(i: int) -> dict[str, Any]:
    ns, port = f"ns{i % 97}", 8000 + i % 50
    host = f"svc{i}.{ns}.svc.cluster.local"
    subset = f"v{i % 3}" if i % 20 == 0 else ""
    name = f"outbound|{port}|{subset}|{host}"
    cluster: dict[str, Any] = {
        "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        "name": name,
        "type": "EDS",
        "eds_cluster_config": {
            "eds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
            "service_name": name,
        },
        "connect_timeout": "10s",
        "lb_policy": "LEAST_REQUEST",
        "circuit_breakers": {
            "thresholds": [
                {
                    "max_connections": 4294967295,
                    "max_pending_requests": 4294967295,
                    "max_requests": 4294967295,
                    "max_retries": 4294967295,
                    "track_remaining": True,
                }
            ]
        },
        "common_lb_config": {"locality_weighted_lb_config": {}},
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "common_http_protocol_options": {"idle_timeout": "3600s"},
                "use_downstream_protocol_config": {"http_protocol_options": {}, "http2_protocol_options": {}},
            }
        },
        "filters": [
            {
                "name": "istio.metadata_exchange",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange",
                    "protocol": "istio-peer-exchange",
                },
            }
        ],
        "metadata": {
            "filter_metadata": {
                "istio": {
                    "services": [{"host": host, "name": f"svc{i}", "namespace": ns}],
                    "default_original_port": port,
                }
            }
        },
    }
    kind = i % 20
    if kind < 14:  # auto mTLS
        cluster["transport_socket_matches"] = [
            {
                "name": "tlsMode-istio",
                "match": {"tlsMode": "istio"},
                "transport_socket": _tls(host, port, subset, ns),
            },
            {
                "name": "tlsMode-disabled",
                "match": {},
                "transport_socket": {
                    "name": "envoy.transport_sockets.raw_buffer",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
                    },
                },
            },
        ]
    elif kind < 18:  # explicit ISTIO_MUTUAL from a DestinationRule
        cluster["transport_socket"] = _tls(host, port, subset, ns)
        cluster["metadata"]["filter_metadata"]["istio"]["config"] = (
            f"/apis/networking.istio.io/v1/namespaces/{ns}/destination-rule/dr{i}"
        )
    else:  # DR tls DISABLE: plaintext
        cluster["metadata"]["filter_metadata"]["istio"]["config"] = (
            f"/apis/networking.istio.io/v1/namespaces/{ns}/destination-rule/plain{i}"
        )
    if subset:  # subsets come from a DestinationRule (here one without tls: still auto mTLS)
        istio = cluster["metadata"]["filter_metadata"]["istio"]
        istio["subset"] = subset
        istio.setdefault(
            "config", f"/apis/networking.istio.io/v1alpha3/namespaces/{ns}/destination-rule/subsets{i}"
        )
    return cluster


def _endpoints(i: int) -> dict[str, Any]:
    name = _cluster(i)["name"]
    port = 8000 + i % 50
    lbs = [
        {
            "endpoint": {
                "address": {
                    "socket_address": {"address": f"10.{i // 250 % 250}.{i % 250}.{k}", "port_value": port}
                },
                "health_check_config": {},
            },
            "health_status": "HEALTHY",
            "metadata": {
                "filter_metadata": {
                    "envoy.transport_socket_match": {"tlsMode": "istio"},
                    "istio": {"workload": f"svc{i}-v{k};ns;svc{i};v{k};Kubernetes"},
                }
            },
            "load_balancing_weight": 1,
        }
        for k in range(3)
    ]
    return {
        "endpoint_config": {
            "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
            "cluster_name": name,
            "endpoints": [{"locality": {}, "lb_endpoints": lbs, "load_balancing_weight": 3}],
            "policy": {"overprovisioning_factor": 140},
        }
    }


def generate(path: Path, size_mb: float) -> int:
    """Write a dump of about size_mb megabytes; returns the number of clusters."""
    per_cluster = len(json.dumps({"c": _cluster(1), "e": _endpoints(1)}, indent=1)) + 60
    # The sample pair is pretty-printed deeper than in the dump, hence the 0.9 correction.
    count = max(100, int(size_mb * 1_000_000 / per_cluster / 0.9 * 0.82))
    dump = {
        "configs": [
            {
                "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
                "version_info": "2026-01-01T00:00:00Z/1",
                "dynamic_active_clusters": [
                    {
                        "version_info": "2026-01-01T00:00:00Z/1",
                        "cluster": _cluster(i),
                        "last_updated": "2026-01-01T00:00:00.000Z",
                    }
                    for i in range(count)
                ],
            },
            {
                "@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
                "dynamic_endpoint_configs": [_endpoints(i) for i in range(count)],
            },
        ]
    }
    with path.open("w") as fh:
        json.dump(dump, fh, indent=1)
    return count


def measure(side: str, path: Path) -> dict[str, float]:
    """Run in a fresh process: time one call, then the tracemalloc peak of a second call."""
    sys.path.insert(0, str(REPO))
    from agent.envoy.config_dump import parse_clusters

    data = path.read_bytes()
    op = (lambda: json.loads(data)) if side == "json" else (lambda: parse_clusters(data))
    gc.collect()
    start = time.perf_counter()
    result = op()
    elapsed = time.perf_counter() - start
    del result
    gc.collect()
    tracemalloc.start()
    result = op()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return {"time_s": elapsed, "peak_bytes": float(peak)}


def _child(side: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", side, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--lab-services",
        type=int,
        default=100,
        help="extra Services in the lab for the fetch (0: no lab); the fetch runs max(--rounds, 3) rounds",
    )
    parser.add_argument("--measure", choices=["json", "parse"], help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.path))))
        return 0
    if not 1 <= args.rounds <= 20 or not 0.1 <= args.size_mb <= 500 or not 0 <= args.lab_services <= 150:
        parser.error("--rounds must be 1-20, --size-mb 0.1-500, --lab-services 0-150")
    with tempfile.TemporaryDirectory(prefix="meshprober-bench-") as tmp:
        path = Path(tmp) / "config_dump.json"
        count = generate(path, args.size_mb)
        print(f"dump: {path.stat().st_size / 1e6:.1f} MB, {count} clusters (+ EDS), {args.rounds} rounds")
        results: dict[str, list[dict[str, float]]] = {"json": [], "parse": []}
        for rnd in range(args.rounds):
            for side in ("json", "parse") if rnd % 2 == 0 else ("parse", "json"):
                r = _child(side, path)
                results[side].append(r)
                print(f"round {rnd + 1} {side:5}: {r['time_s']:.3f} s, peak {r['peak_bytes'] / 1e6:.1f} MB")
    t_json = statistics.median(r["time_s"] for r in results["json"])
    t_parse = statistics.median(r["time_s"] for r in results["parse"])
    m_json = statistics.median(r["peak_bytes"] for r in results["json"])
    m_parse = statistics.median(r["peak_bytes"] for r in results["parse"])
    print(f"median json.loads:      {t_json:.3f} s, peak {m_json / 1e6:.1f} MB")
    print(f"median parse_clusters:  {t_parse:.3f} s, peak {m_parse / 1e6:.1f} MB")
    final = f"config_dump: parse_ratio={t_parse / t_json:.2f} peak_ratio={m_parse / m_json:.2f}"
    if args.lab_services:
        from dump_fetch import fetch_figures

        with tempfile.TemporaryDirectory(prefix="meshprober-bench-") as tmp:
            f = fetch_figures(Path(tmp), args.lab_services, max(args.rounds, 3))
        print(
            f"median filtered fetch: {f['filtered_s']:.3f} s, {f['filtered_bytes']:.0f} bytes; "
            f"full dump: {f['full_s']:.3f} s, {f['full_bytes']:.0f} bytes"
        )
        final += (
            f" filtered_bytes_ratio={f['filtered_bytes'] / f['full_bytes']:.3f}"
            f" filtered_time_ratio={f['filtered_s'] / f['full_s']:.2f}"
        )
    print(final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
