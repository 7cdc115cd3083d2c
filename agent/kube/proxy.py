"""Fetch a sidecar's Envoy config and stats through `pilot-agent request` exec'd in istio-proxy.

Asks only for what is needed: the one outbound cluster (`config_dump?resource=dynamic_active_clusters
&name_regex=...`), falling back to the full `config_dump` when the proxy rejects the filter (old
Envoy). Works against any Cluster implementation; does no parsing beyond "is this a JSON object".
The filtered answer lists `ClustersConfigDump.DynamicCluster` items directly under `configs` (checked on
Envoy 1.40); agent.envoy.config_dump.parse_clusters reads both shapes.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from agent.envoy.config_dump import cluster_name_regex, service_clusters_regex  # pure; shared with the parser
from agent.errors import ExecError, InputError
from agent.istio.mesh import SIDECAR_CONTAINER
from agent.kube.cluster import Cluster

DEFAULT_TIMEOUT = 15.0


def _pilot_agent(path: str) -> list[str]:
    return ["pilot-agent", "request", "GET", path]


def _run(cluster: Cluster, namespace: str, pod: str, path: str, timeout: float) -> tuple[int, bytes, bytes]:
    res = cluster.exec(namespace, pod, SIDECAR_CONTAINER, _pilot_agent(path), timeout)
    return res.exit_code, res.stdout, res.stderr


def _json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


def fetch_clusters_config_dump(
    cluster: Cluster,
    namespace: str,
    pod: str,
    fqdn: str,
    port: int,
    subset: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> bytes:
    """The sidecar's dynamic_active_clusters entry for one cluster as raw JSON bytes (a miss is `{}`).

    `subset="*"`: every cluster of the Service port (default and subsets, any cluster domain).
    Falls back to the full config_dump when the filtered request fails or returns non-JSON.
    """
    regex = service_clusters_regex(fqdn, port) if subset == "*" else cluster_name_regex(fqdn, port, subset)
    filtered = f"config_dump?resource=dynamic_active_clusters&name_regex={quote(regex, safe='')}"
    code, out, _err = _run(cluster, namespace, pod, filtered, timeout)
    if code == 0 and _json_object(out):
        return out
    return fetch_full_config_dump(cluster, namespace, pod, timeout)


def fetch_endpoints_config_dump(
    cluster: Cluster, namespace: str, pod: str, fqdn: str, port: int, timeout: float = DEFAULT_TIMEOUT
) -> bytes | None:
    """The EDS entries (`include_eds`) of every cluster of one Service port, or None when the proxy
    does not answer with JSON: endpoint tlsMode metadata is extra evidence, never required."""
    regex = quote(service_clusters_regex(fqdn, port), safe="")
    path = f"config_dump?resource=dynamic_endpoint_configs&include_eds&name_regex={regex}"
    code, out, _err = _run(cluster, namespace, pod, path, timeout)
    return out if code == 0 and _json_object(out) else None


def fetch_full_config_dump(
    cluster: Cluster, namespace: str, pod: str, timeout: float = DEFAULT_TIMEOUT
) -> bytes:
    code, out, err = _run(cluster, namespace, pod, "config_dump", timeout)
    if code != 0 or not _json_object(out):
        detail = (err or out)[:300].decode("utf-8", "replace").strip()
        raise ExecError(
            f"could not read the Envoy config_dump of {namespace}/{pod} via pilot-agent (exit {code}): {detail}"
        )
    return out


def fetch_stats(
    cluster: Cluster, namespace: str, pod: str, filter_regex: str, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """Envoy `stats?filter=<regex>` text (`name: value` lines) from the sidecar."""
    try:
        re.compile(filter_regex)
    except re.error as exc:
        raise InputError(f"invalid stats filter regex {filter_regex!r}: {exc}") from exc
    code, out, err = _run(cluster, namespace, pod, f"stats?filter={quote(filter_regex, safe='')}", timeout)
    if code != 0:
        detail = (err or out)[:300].decode("utf-8", "replace").strip()
        raise ExecError(
            f"could not read Envoy stats of {namespace}/{pod} via pilot-agent (exit {code}): {detail}"
        )
    return out.decode("utf-8", "replace")


__all__ = [
    "cluster_name_regex",
    "fetch_clusters_config_dump",
    "fetch_endpoints_config_dump",
    "fetch_full_config_dump",
    "fetch_stats",
]
