"""The lab's cluster domain in front of the policy engine, which reasons in `cluster.local`.

Pure: no I/O. Kubernetes names a Service `<svc>.<ns>.svc.<clusterDomain>` and istiod expands short
DestinationRule hosts with the same domain (its `--domain` flag, set from
`values.global.proxy.clusterDomain`; https://istio.io/latest/docs/reference/commands/pilot-discovery/).
agent.istio's PolicyEngine expands hosts with `cluster.local`; the lab asks it in those terms and
renders the answer in the scenario's domain. Hosts written for the lab's domain are mapped onto
`cluster.local`; hosts that name another domain (a `*.cluster.local` rule in a `corp.internal`
cluster) are mapped to names that match nothing, because in a real mesh they match nothing either.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

CANONICAL = "cluster.local"
_NOWHERE = ".not-in-this-cluster.invalid"


def canonical_host(host: str, domain: str) -> str:
    """A DestinationRule host of a `domain` cluster, as the same rule would read in a cluster.local one."""
    if domain == CANONICAL or not host:
        return host
    h = host.lower().rstrip(".")
    svc_domain = f"svc.{domain}"
    if h == "*":
        return h
    wildcard = h.startswith("*.")
    tail = h[2:] if wildcard else h
    if tail.endswith("." + svc_domain) or tail == svc_domain:
        mapped = tail[: len(tail) - len(domain)] + CANONICAL
    elif wildcard and svc_domain.endswith("." + tail):
        # `*.corp.internal`, `*.internal`: every Service of the cluster.
        mapped = CANONICAL
    elif len(tail.split(".")) <= 3 and not wildcard and (tail.count(".") < 2 or tail.endswith(".svc")):
        return host  # a short name (`svc`, `svc.ns`, `svc.ns.svc`): the engine completes it alike
    else:
        mapped = tail + _NOWHERE  # another domain's name: it selects none of this cluster's Services
    return ("*." if wildcard else "") + mapped


def fqdn(name: str, namespace: str, domain: str) -> str:
    return f"{name}.{namespace}.svc.{domain}"


def engine_view(objects: Iterable[Mapping[str, Any]], domain: str) -> list[dict[str, Any]]:
    """Copies of the objects with DestinationRule hosts in cluster.local terms (the rest unchanged)."""
    out: list[dict[str, Any]] = []
    for obj in objects:
        if domain != CANONICAL and obj.get("kind") == "DestinationRule":
            obj = copy.deepcopy(dict(obj))
            spec = obj.get("spec")
            if isinstance(spec, dict) and isinstance(spec.get("host"), str):
                spec["host"] = canonical_host(spec["host"], domain)
        out.append(dict(obj))
    return out
