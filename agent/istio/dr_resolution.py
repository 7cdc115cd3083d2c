"""DestinationRule resolution for a client sidecar, as istiod computes it.

Host normalisation (ResolveShortnameToFQDN), most-specific host match, exportTo visibility,
same-host merging, workloadSelector DRs and the client ns -> service ns -> root ns lookup
(PushContext.destinationRule). Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.istio.resources import DestinationRule, MeshConfig


def resolve_short_host(host: str, namespace: str) -> str:
    """A host without a dot is expanded in the DR's own namespace; dotted hosts are literal."""
    if host == "*" or "." in host:
        return host
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return f"{host}.{namespace}.svc.cluster.local"


CANONICAL_SUFFIX = ".svc.cluster.local"
FOREIGN_MARK = ".(not-this-cluster)"


def canonical_host(host: str, domain: str, *, foreign: bool = True) -> str:
    """A Service host under the cluster's own domain, written as the engine's canonical cluster.local.

    The engine resolves Services as `name.ns.svc.cluster.local`; a cluster with another domain
    (kubelet --cluster-domain, Istio's `global.proxy.clusterDomain`) names the same Service
    `name.ns.svc.<domain>`, and a DestinationRule there is written that way. Hosts under any other
    domain match nothing here, as in the cluster itself (`foreign`: a written `.svc.cluster.local`
    host is marked so; callers that already speak the canonical form pass foreign=False)."""
    suffix = f".svc.{domain.strip('.').lower()}"
    if suffix == CANONICAL_SUFFIX:
        return host
    if host.lower().endswith(suffix):
        return host[: -len(suffix)] + CANONICAL_SUFFIX
    if foreign and host.lower().endswith(CANONICAL_SUFFIX):
        return host + FOREIGN_MARK  # cluster.local is not this cluster's domain: no Service has it
    return host


def display_host(host: str, domain: str) -> str:
    """The canonical form written back in the cluster's own domain (for what users read)."""
    suffix = f".svc.{domain.strip('.').lower()}"
    return host.replace(CANONICAL_SUFFIX, suffix) if suffix != CANONICAL_SUFFIX else host


def host_matches(pattern: str, needle: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return needle.endswith(pattern[1:])
    return pattern == needle


def most_specific_host(needle: str, hosts: Iterable[str]) -> str | None:
    """Exact host first, else the longest matching wildcard (MostSpecificHostMatch)."""
    hosts = list(hosts)
    if needle in hosts and not needle.startswith("*"):
        return needle
    candidates = [h for h in hosts if h.startswith("*") and host_matches(h, needle)]
    if not candidates:
        return None
    return sorted(candidates, key=lambda h: (-len(h), h))[0]


@dataclass
class ConsolidatedRule:
    """One entry of a namespace's index: a DR, possibly merged with later same-host DRs."""

    first: DestinationRule
    host: str  # resolved
    export_to: frozenset[str]
    selector: Mapping[str, str] | None
    traffic_policy: Mapping[str, Any] | None
    subsets: list[Mapping[str, Any]]
    sources: list[str] = field(default_factory=list)
    policy_from: DestinationRule | None = None  # the DR whose top-level trafficPolicy is in force

    @property
    def ref(self) -> str:
        return self.first.ref


def _export_set(dr: DestinationRule) -> frozenset[str]:
    if dr.selector is not None:
        return frozenset({"."})  # selector DRs are forced private
    return frozenset(dr.export_to)


def _merge(entries: list[ConsolidatedRule], dr: DestinationRule, export: frozenset[str], host: str) -> None:
    """mergeDestinationRule with ENABLE_ENHANCED_DESTINATIONRULE_MERGE (default since 1.24)."""
    separately = True
    for entry in entries:
        if export == entry.export_to:
            separately = False
        elif entry.export_to and export >= entry.export_to:
            separately = True
        else:
            separately = True
            continue
        both_sel = entry.selector is not None and dr.selector is not None
        if both_sel and dict(entry.selector or {}) != dict(dr.selector or {}):
            separately = True
            continue
        if (entry.selector is None and dr.selector is None) or both_sel:
            separately = False
        names = {s.get("name") for s in entry.subsets}
        entry.subsets.extend(s for s in dr.subsets if s.get("name") not in names)
        if entry.traffic_policy is None and dr.traffic_policy is not None:
            entry.traffic_policy = dr.traffic_policy
            entry.policy_from = dr
        entry.sources.append(dr.ref)
    if separately:
        entries.append(_new_entry(dr, export, host))


def _new_entry(dr: DestinationRule, export: frozenset[str], host: str) -> ConsolidatedRule:
    return ConsolidatedRule(
        first=dr,
        host=host,
        export_to=export,
        selector=dr.selector,
        traffic_policy=dr.traffic_policy,
        subsets=list(dr.subsets),
        sources=[dr.ref],
        policy_from=dr if dr.traffic_policy is not None else None,
    )


@dataclass
class _NsIndex:
    rules: dict[str, list[ConsolidatedRule]] = field(default_factory=dict)
    domain: str = "cluster.local"

    def add(self, dr: DestinationRule) -> None:
        host = resolve_short_host(canonical_host(dr.host, self.domain), dr.namespace)
        export = _export_set(dr)
        if host in self.rules:
            _merge(self.rules[host], dr, export, host)
        else:
            self.rules[host] = [_new_entry(dr, export, host)]


@dataclass(frozen=True)
class Resolution:
    rule: ConsolidatedRule | None
    steps: tuple[str, ...]  # the lookup path, in words


def sort_key(dr: DestinationRule) -> tuple[int, str, str, str]:
    return (0 if dr.selector is not None else 1, dr.created, dr.name, dr.namespace)


class DestinationRuleIndex:
    """The per-push DR index: namespace-local, exported-by-namespace and root-private views."""

    def __init__(self, rules: Iterable[DestinationRule], mesh: MeshConfig) -> None:
        self.mesh = mesh
        self.local: dict[str, _NsIndex] = {}
        self.exported: dict[str, _NsIndex] = {}
        domain = mesh.cluster_domain
        self.root_local = _NsIndex(domain=domain)
        # setDestinationRules: "We only honor . and *" -- any "." in the mesh default makes it private.
        default_private = "." in mesh.default_dr_export_to
        for dr in sorted(rules, key=sort_key):
            ns = dr.namespace
            exp = set(dr.export_to)
            private_only = default_private if not exp else (len(exp) == 1 and exp <= {".", ns})
            if dr.selector is not None:
                private_only = True  # never exported
            if not exp or exp & {"*", ".", ns}:
                self.local.setdefault(ns, _NsIndex(domain=domain)).add(dr)
            if not private_only:
                self.exported.setdefault(ns, _NsIndex(domain=domain)).add(dr)
            if ns == mesh.root_namespace and private_only:
                self.root_local.add(dr)

    def _pick(
        self, entries: list[ConsolidatedRule], client_ns: str, labels: Mapping[str, str]
    ) -> ConsolidatedRule | None:
        catch_all = None
        for entry in entries:
            if entry.selector is None:
                catch_all = entry
            elif entry.first.namespace == client_ns and all(
                labels.get(k) == v for k, v in entry.selector.items()
            ):
                return entry
        return catch_all

    def _exported(self, ns: str, fqdn: str, client_ns: str) -> tuple[list[ConsolidatedRule], str]:
        idx = self.exported.get(ns)
        if idx is None:
            return [], f"no DestinationRule in {ns} exported for {fqdn}"
        host = most_specific_host(fqdn, idx.rules)
        if host is None:
            return [], f"no DestinationRule in {ns} matches {fqdn}"
        # Each consolidated entry keeps its own exportTo set, checked here; when none is visible
        # the step yields nothing (no fallback to a less specific host in this namespace).
        visible = [e for e in idx.rules[host] if not e.export_to or e.export_to & {"*", client_ns}]
        if not visible:
            refs = ", ".join(e.ref for e in idx.rules[host])
            return [], f"{refs} (host {host}) in {ns} is not exported to {client_ns}"
        return visible, ""

    def resolve(self, client_ns: str, labels: Mapping[str, str], fqdn: str, svc_ns: str) -> Resolution:
        root = self.mesh.root_namespace
        steps: list[str] = []
        local = self.root_local if client_ns == root else self.local.get(client_ns, _NsIndex())
        host = most_specific_host(fqdn, local.rules)
        if host is not None:
            rule = self._pick(local.rules[host], client_ns, labels)
            where = "root namespace (private)" if client_ns == root else "client namespace"
            if rule is None:
                steps.append(
                    f"only workloadSelector DRs for {host} in the {where} {client_ns}, none selects this client"
                )
            else:
                steps.append(f"{_describe(rule)} in the {where} {client_ns} applies")
            return Resolution(rule, tuple(steps))
        steps.append(f"no DestinationRule in the client namespace {client_ns} matches {fqdn}")
        order = [(svc_ns, "service namespace")] if svc_ns != client_ns else []
        order.append((root, "root namespace"))
        for ns, what in order:
            entries, why = self._exported(ns, fqdn, client_ns)
            if entries:
                rule = self._pick(entries, client_ns, labels)
                if rule is not None:
                    steps.append(f"{_describe(rule)} in the {what} {ns} applies")
                    return Resolution(rule, tuple(steps))
            steps.append(why.replace(f"in {ns}", f"in the {what} {ns}") if why else f"nothing usable in {ns}")
        steps.append("no DestinationRule applies")
        return Resolution(None, tuple(steps))


def _describe(rule: ConsolidatedRule) -> str:
    exp = rule.first.export_to
    exported = "exported to all" if not exp or "*" in exp else f"exportTo {list(exp)}"
    merged = f", merged from {', '.join(rule.sources)}" if len(rule.sources) > 1 else ""
    sel = f", workloadSelector {dict(rule.selector)}" if rule.selector is not None else ""
    return f"{rule.ref} (host {rule.first.host}, {exported}{sel}{merged})"
