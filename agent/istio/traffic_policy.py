"""The DestinationRule traffic policy in force for one service port and subset.

A portLevelSettings entry (keyed by SERVICE port) replaces the top-level policy wholesale; a
subset overlays its own components. Also the tls mode Istio's EDS mTLS marking reads. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from agent.istio.dr_resolution import ConsolidatedRule

# The components a matching port-level entry replaces wholesale (an omitted one becomes its default).
_PORT_KEYS = ("connectionPool", "loadBalancer", "outlierDetection", "tls")


def _port_entry(tp: Mapping[str, Any], port: int) -> Mapping[str, Any] | None:
    for pls in tp.get("portLevelSettings") or []:
        if isinstance(pls, Mapping) and (pls.get("port") or {}).get("number") == port:
            return pls
    return None


def port_policy(tp: Mapping[str, Any] | None, port: int) -> tuple[dict[str, Any], bool]:
    """Policy for a service port: a matching portLevelSettings entry replaces the top level's
    connectionPool/loadBalancer/outlierDetection/tls wholesale (MergeTrafficPolicy with hasPortLevel);
    top-level tunnel, proxyProtocol and retryBudget stay, as port entries cannot set them."""
    if not tp:
        return {}, False
    out = {k: copy.deepcopy(v) for k, v in tp.items() if k != "portLevelSettings"}
    entry = _port_entry(tp, port)
    if entry is None:
        return out, False
    for key in _PORT_KEYS:
        out.pop(key, None)
        if entry.get(key) is not None:
            out[key] = copy.deepcopy(entry[key])
    return out, True


_SUBSET_KEYS = (
    "connectionPool",
    "outlierDetection",
    "loadBalancer",
    "tls",
    "tunnel",
    "proxyProtocol",
    "retryBudget",
)


def effective_policy(
    rule: ConsolidatedRule | None, port: int, subset: str | None
) -> tuple[dict[str, Any], str]:
    """The traffic policy for (port, subset) and where its tls came from (top|port|subset|subset-port)."""
    if rule is None:
        return {}, "none"
    policy, port_hit = port_policy(rule.traffic_policy, port)
    where = "port" if port_hit else "top"
    if subset is None:
        return policy, where
    sub = next((s for s in rule.subsets if s.get("name") == subset), None)
    if sub is None or not sub.get("trafficPolicy"):
        return policy, where
    stp = sub["trafficPolicy"]
    # MergeTrafficPolicy: every non-nil subset component overrides, then a matching subset port entry
    # replaces the four port-level components (even with nil).
    for key in _SUBSET_KEYS:
        if stp.get(key) is not None:
            policy[key] = copy.deepcopy(stp[key])
    entry = _port_entry(stp, port)
    if entry is not None:
        for key in _PORT_KEYS:
            policy.pop(key, None)
            if entry.get(key) is not None:
                policy[key] = copy.deepcopy(entry[key])
        return policy, "subset-port"
    return policy, "subset" if stp.get("tls") is not None else where


def endpoint_marking_mode(rule: ConsolidatedRule | None, port: int, subset: str | None) -> str | None:
    """The DR tls mode mtls_checker uses for EDS marking: top-level, overridden only by a port entry WITH tls."""
    if rule is None:
        return None

    def for_port(tp: Mapping[str, Any] | None) -> str | None:
        if not tp:
            return None
        mode = (tp.get("tls") or {}).get("mode", "DISABLE") if tp.get("tls") is not None else None
        for pls in tp.get("portLevelSettings") or []:
            if (pls.get("port") or {}).get("number") == port and pls.get("tls") is not None:
                return str((pls.get("tls") or {}).get("mode", "DISABLE"))
        return mode

    if subset is not None:
        # tlsModeForDestinationRule: a subset cluster reads only the subset's own policy (no top-level fallback).
        sub = next((s for s in rule.subsets if s.get("name") == subset), None)
        return for_port(sub.get("trafficPolicy")) if sub else None
    return for_port(rule.traffic_policy)
