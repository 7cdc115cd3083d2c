"""Which DestinationRule subset a sidecar routes a request to, from the VirtualServices in force.

Pure, no I/O. Used when the client access log (which names the upstream cluster) is not available,
e.g. with access logging off. Semantics from istio/istio 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c:
- pilot/pkg/model/virtualservice.go `SelectVirtualServices`: a sidecar takes the VirtualServices
  bound to the `mesh` gateway (no `gateways`, or one naming `mesh`) that are visible to its
  namespace, in the order: private to the namespace (exportTo "."), exported to it, public ("*"),
  each by creation time; `ResolveVirtualServiceShortnames` expands short hosts relative to the
  VirtualService's own namespace. The first one binding the host decides its routes.
- networking/v1 HTTPRoute: routes are tried in order, the first whose `match` (any entry; all
  conditions in an entry) fits wins; no `match` matches everything. Its `route` destinations carry
  `host`, `subset`, `port` and `weight`; the subset picks the cluster `outbound|PORT|SUBSET|HOST`.
Header, query and authority conditions cannot be told for a probe request here and count as not
matching; `sourceLabels`/`sourceNamespace` are checked against the probing pod.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    """Where the request goes: the subset (None = the default cluster) and the VirtualService that said so."""

    virtual_service: str  # "namespace/name"
    subsets: tuple[tuple[str | None, int], ...]  # (subset, weight) of the destinations for the host

    @property
    def subset(self) -> str | None:
        """The one subset all traffic goes to; None for the default cluster or a weighted split."""
        names = {s for s, w in self.subsets if w > 0} or {s for s, _ in self.subsets}
        return next(iter(names)) if len(names) == 1 else None

    @property
    def split(self) -> bool:
        return len({s for s, w in self.subsets if w > 0}) > 1


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _meta(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    m = _dict(obj.get("metadata"))
    return (
        str(m.get("namespace") or "default"),
        str(m.get("name") or ""),
        str(m.get("creationTimestamp") or ""),
    )


def expand(host: str, namespace: str, domain: str = "cluster.local") -> str:
    """A short host (`reviews`) relative to the VirtualService's namespace; names with a dot stay."""
    host = host.strip().lower().rstrip(".")
    return host if "." in host or host == "*" else f"{host}.{namespace}.svc.{domain}"


def _host_matches(pattern: str, fqdn: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return fqdn.endswith(pattern[1:])
    return pattern == fqdn


def _visible(vs: Mapping[str, Any], client_ns: str) -> int | None:
    """Rank of a VirtualService for a client namespace (0 private, 1 exported to it, 2 public), None if hidden."""
    ns, _, _ = _meta(vs)
    export = [str(e) for e in _list(_dict(vs.get("spec")).get("exportTo"))] or ["*"]
    if "." in export and ns == client_ns:
        return 0
    if client_ns in export:
        return 1
    if "*" in export:
        return 2
    return None


def _mesh_bound(spec: Mapping[str, Any]) -> bool:
    gateways = [str(g) for g in _list(spec.get("gateways"))]
    return not gateways or "mesh" in gateways


def _uri_matches(cond: Mapping[str, Any], path: str) -> bool:
    if "exact" in cond:
        return path == str(cond["exact"])
    if "prefix" in cond:
        return path.startswith(str(cond["prefix"]))
    if "regex" in cond:
        try:
            return re.fullmatch(str(cond["regex"]), path) is not None
        except re.error:
            return False
    return True


def _match_fits(
    m: Mapping[str, Any], port: int, path: str, client_ns: str, client_labels: Mapping[str, str]
) -> bool:
    if any(k in m for k in ("headers", "queryParams", "authority", "scheme", "withoutHeaders", "gateways")):
        return False  # not decidable for a probe: counted as not matching
    if "port" in m and m["port"] != port:
        return False
    if "method" in m and not _uri_matches(_dict(m["method"]), "GET"):
        return False
    if "uri" in m and not _uri_matches(_dict(m["uri"]), path):
        return False
    if "sourceNamespace" in m and str(m["sourceNamespace"]) != client_ns:
        return False
    labels = _dict(m.get("sourceLabels"))
    return all(client_labels.get(str(k)) == str(v) for k, v in labels.items())


def route(
    objects: Iterable[Mapping[str, Any]],
    client_ns: str,
    client_labels: Mapping[str, str],
    fqdn: str,
    port: int,
    path: str = "/",
) -> Route | None:
    """The route a client sidecar takes for http://fqdn:port/path; None when no VirtualService binds
    the host (the default cluster `outbound|port||fqdn` is used)."""
    candidates = []
    for vs in objects:
        if vs.get("kind") != "VirtualService" or not str(vs.get("apiVersion") or "").startswith(
            "networking.istio.io/"
        ):
            continue
        spec = _dict(vs.get("spec"))
        rank = _visible(vs, client_ns)
        ns, name, created = _meta(vs)
        if rank is None or not _mesh_bound(spec):
            continue
        if any(_host_matches(expand(str(h), ns), fqdn) for h in _list(spec.get("hosts"))):
            candidates.append((rank, created, name, ns, spec))
    if not candidates:
        return None
    _, _, name, ns, spec = min(candidates, key=lambda c: (c[0], c[1], c[2]))
    for http in _list(spec.get("http")):
        http = _dict(http)
        matches = [_dict(m) for m in _list(http.get("match"))]
        if matches and not any(_match_fits(m, port, path, client_ns, client_labels) for m in matches):
            continue
        dests = []
        for r in _list(http.get("route")):
            d = _dict(_dict(r).get("destination"))
            if expand(str(d.get("host") or ""), ns) != fqdn:
                continue  # routed to another service: not this target's clusters
            dport = _dict(d.get("port")).get("number")
            if dport is not None and dport != port:
                continue
            weight = _dict(r).get("weight")
            dests.append(
                (
                    str(d["subset"]) if d.get("subset") else None,
                    int(weight) if isinstance(weight, int) else 100,
                )
            )
        return Route(f"{ns}/{name}", tuple(dests)) if dests else None
    return None
