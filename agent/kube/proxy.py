"""Fetch a sidecar's Envoy config and stats through `pilot-agent request` exec'd in istio-proxy.

Asks only for what is needed: the one outbound cluster (`config_dump?resource=dynamic_active_clusters
&name_regex=...`), falling back to the full `config_dump` when the proxy rejects the filter (old
Envoy). Works against any Cluster implementation; does no parsing beyond "is this a JSON object".
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from agent.errors import ExecError, InputError
from agent.kube.cluster import SIDECAR_CONTAINER, Cluster

DEFAULT_TIMEOUT = 15.0
_FQDN_RE = re.compile(r"^[A-Za-z0-9*]([-A-Za-z0-9.*]{0,251}[A-Za-z0-9])?$")
_SUBSET_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def cluster_name_regex(fqdn: str, port: int, subset: str | None = None, direction: str = "outbound") -> str:
    """Regex matching exactly the Envoy cluster `outbound|PORT|SUBSET|FQDN` (whole name, `|`/`.` escaped)."""
    if not _FQDN_RE.match(fqdn):
        raise InputError(
            f"invalid host {fqdn!r} for a cluster name (expected e.g. reviews.bookinfo.svc.cluster.local)"
        )
    if not 0 < port < 65536:
        raise InputError(f"invalid port {port} for a cluster name (1-65535)")
    if subset is not None and not _SUBSET_RE.match(subset):
        raise InputError(f"invalid subset name {subset!r}")
    name = f"{direction}|{port}|{subset or ''}|{fqdn}"
    return "^" + re.escape(name) + "$"


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

    Falls back to the full config_dump when the filtered request fails or returns non-JSON.
    """
    regex = cluster_name_regex(fqdn, port, subset)
    filtered = f"config_dump?resource=dynamic_active_clusters&name_regex={quote(regex, safe='')}"
    code, out, _err = _run(cluster, namespace, pod, filtered, timeout)
    if code == 0 and _json_object(out):
        return out
    return fetch_full_config_dump(cluster, namespace, pod, timeout)


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
