"""What an ad-hoc probe may use: sources and targets (pure, no I/O).

An ad-hoc probe runs curl inside a workload, so the request leaves with that workload's SPIFFE
identity: without limits it is an SSRF and identity-borrowing tool. Sources are the configured
probe sources unless `api.adhoc_sources` widens them; targets are in-mesh Service hostnames
(`NAME.NAMESPACE.svc[.CLUSTER_DOMAIN]`) and `api.adhoc_extra_hosts`. IP literals, localhost,
link-local and cloud-metadata hosts, the Kubernetes API server and the sidecar's own ports
(15000-15090: Envoy admin, pilot-agent, outbound/inbound capture) are refused with the reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from agent.config import ApiConfig, PathConfig
from agent.probe.url import split_url

# Istio's reserved ports: https://istio.io/latest/docs/ops/deployment/application-requirements/#ports-used-by-istio
SIDECAR_PORTS = range(15000, 15091)
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
     "metadata.azure.com", "metadata.tencentyun.com"}
)  # fmt: skip


def configured_sources(paths: Iterable[PathConfig]) -> set[str]:
    """`NS/WORKLOAD` of every configured (and discovered) path's source."""
    return {f"{p.source.namespace}/{p.source.label}" for p in paths}


def source_problem(path: PathConfig, settings: ApiConfig, configured: set[str]) -> str | None:
    src = path.source
    key = f"{src.namespace}/{src.label}"
    if key in configured or key in settings.adhoc_sources or f"{src.namespace}/*" in settings.adhoc_sources:
        return None
    return (
        f"from: {key} is not a configured probe source; ad-hoc probes borrow the source's identity, so "
        "only configured sources are allowed (widen with api.adhoc_sources)"
    )


def target_problem(url: str, settings: ApiConfig) -> str | None:
    """Why `url` (already validated) may not be an ad-hoc target, or None."""
    parts = split_url(url)
    host = parts.host.lower().rstrip(".")
    if parts.port in SIDECAR_PORTS:
        return (
            f"to: port {parts.port} is one of the sidecar's own ports (15000-15090: Envoy admin, "
            "pilot-agent, traffic capture); ad-hoc probes may not reach them"
        )
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if ip.is_link_local:
            return f"to: {host} is a link-local address (cloud metadata services live there); not allowed"
        if ip.is_loopback:
            return f"to: {host} is a loopback address (the source pod's own sidecar and agents); not allowed"
        return f"to: IP literal {host} is not allowed; use the Service's DNS name (NAME.NAMESPACE.svc)"
    if host == "localhost" or host.endswith(".localhost"):
        return "to: localhost is the source pod itself (its sidecar's admin ports); not allowed"
    if host in METADATA_HOSTS:
        return f"to: {host} is a cloud metadata host; not allowed"
    if host in {h.lower().rstrip(".") for h in settings.adhoc_extra_hosts}:
        return None
    labels = host.split(".")
    domain = settings.cluster_domain.lower().strip(".")
    in_mesh = (len(labels) == 3 and labels[2] == "svc") or (
        len(labels) > 3 and labels[2] == "svc" and ".".join(labels[3:]) == domain
    )
    if not in_mesh:
        return (
            f"to: {host} is not an in-mesh Service hostname (NAME.NAMESPACE.svc.{domain}); "
            "other hosts need api.adhoc_extra_hosts"
        )
    if labels[:2] == ["kubernetes", "default"]:
        return "to: kubernetes.default is the Kubernetes API server, not a mesh service; not allowed"
    return None
