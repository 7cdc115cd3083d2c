"""Build the fix for a tls-check CONFLICT as a patched (or new) DestinationRule in YAML.

The patch keeps every other setting of the resource (loadBalancer, connectionPool,
outlierDetection, subsets, portLevelSettings). A new DR that would shadow a broader one copies
the broader one's traffic policy and says so. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml

from agent.istio.dr_resolution import ConsolidatedRule
from agent.istio.load import SOURCE_KEY

_DROP_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
AUTO = "AUTO"  # desired "mode": remove the tls setting so auto mTLS decides per endpoint


def _clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    out.pop(SOURCE_KEY, None)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in _DROP_META:
        meta.pop(key, None)
    ann = meta.get("annotations")
    if isinstance(ann, dict):
        ann.pop(_LAST_APPLIED, None)
        if not ann:
            meta.pop("annotations")
    return out


def _set_tls(holder: dict[str, Any], mode: str) -> list[str]:
    """Set holder['tls'] to the desired mode; returns the tls fields that had to be dropped."""
    old = holder.get("tls") or {}
    dropped = [k for k in old if k != "mode"]
    if mode == AUTO:
        holder.pop("tls", None)
    else:
        holder["tls"] = {"mode": mode}
    return dropped


def _port_entry(tp: dict[str, Any], port: int) -> dict[str, Any] | None:
    for pls in tp.get("portLevelSettings") or []:
        if (pls.get("port") or {}).get("number") == port:
            return pls  # type: ignore[no-any-return]
    return None


def apply_tls(
    spec: dict[str, Any], tls_from: str, port: int, subset: str | None, mode: str
) -> tuple[str, list[str]]:
    """Change the tls where it was decided; returns (path in words, dropped tls fields)."""
    if tls_from in ("subset", "subset-port") and subset is not None:
        for sub in spec.get("subsets") or []:
            if sub.get("name") == subset:
                stp = sub.setdefault("trafficPolicy", {})
                entry = _port_entry(stp, port) if tls_from == "subset-port" else None
                if entry is not None:
                    return f"spec.subsets[{subset}].trafficPolicy.portLevelSettings[{port}].tls", _set_tls(
                        entry, mode
                    )
                return f"spec.subsets[{subset}].trafficPolicy.tls", _set_tls(stp, mode)
    tp = spec.setdefault("trafficPolicy", {})
    entry = _port_entry(tp, port) if tls_from == "port" else None
    if entry is not None:
        return f"spec.trafficPolicy.portLevelSettings[port {port}].tls", _set_tls(entry, mode)
    return "spec.trafficPolicy.tls", _set_tls(tp, mode)


def _unblock_auto_at_port(spec: dict[str, Any], tls_from: str, mode: str) -> str:
    """Auto mTLS at a port entry marks endpoints from the top-level tls mode while there is one
    (mtls_checker reads it instead of each endpoint's PeerAuthentication): drop that tls too.
    Returns the words for it, or ""."""
    tp = spec.get("trafficPolicy") or {}
    if mode != AUTO or tls_from != "port" or tp.get("tls") is None:
        return ""
    top_mode = str((tp.get("tls") or {}).get("mode") or "DISABLE")
    tp.pop("tls")
    return (
        f" Also removes the top-level tls (mode {top_mode}): Istio marks endpoints for auto mTLS from it instead "
        "of from each endpoint's PeerAuthentication, so with it in place this port would stay broken; ports "
        "without their own tls now use auto mTLS as well."
    )


def _dump(obj: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(obj), sort_keys=False, default_flow_style=False)


def _mode_words(mode: str) -> str:
    return (
        "remove the tls setting so auto mTLS picks per endpoint" if mode == AUTO else f"set tls.mode {mode}"
    )


def build(
    *,
    rule: ConsolidatedRule | None,
    fqdn: str,
    service_namespace: str,
    service_name: str,
    port: int,
    subset: str | None,
    tls_from: str,
    mode: str,
    mesh_default_private: bool = False,
    taken: frozenset[str] = frozenset(),
) -> tuple[str, str]:
    """(text, patch YAML) for the desired client mode.

    `mesh_default_private`: meshConfig.defaultDestinationRuleExportTo keeps a DR without exportTo in its
    namespace; `taken`: "ns/name" of existing DestinationRules (a new one must not overwrite them)."""
    if rule is not None and not rule.host.startswith("*") and rule.host == fqdn:
        # Patch the DR whose trafficPolicy is in force: adding one to another merged DR would hide it.
        target = (
            rule.policy_from if tls_from in ("top", "port") and rule.policy_from is not None else rule.first
        )
        obj = _clean(target.raw)
        path, dropped = apply_tls(obj.setdefault("spec", {}), tls_from, port, subset, mode)
        name = target.ref
        text = f"Patch DestinationRule {name}: {_mode_words(mode)} at {path}; every other setting is kept."
        text += _unblock_auto_at_port(obj["spec"], tls_from, mode)
        if dropped:
            text += f" Dropped tls fields that do not apply to {mode}: {', '.join(dropped)}."
        return text, _dump(obj)
    new_ns = rule.first.namespace if rule is not None else service_namespace
    suffix = "mtls" if mode in ("ISTIO_MUTUAL", AUTO) else "plaintext"
    spec: dict[str, Any] = {"host": fqdn}
    text_extra = ""
    if rule is not None:
        if rule.first.export_to:
            spec["exportTo"] = list(rule.first.export_to)
        if rule.selector is not None:
            spec["workloadSelector"] = {"matchLabels": dict(rule.selector)}
        spec["trafficPolicy"] = copy.deepcopy(dict(rule.traffic_policy or {}))
        if rule.subsets:
            # Routes to these subsets (VirtualService `subset:`) must keep resolving once it shadows them.
            spec["subsets"] = copy.deepcopy(list(rule.subsets))
        text_extra = (
            f" It would shadow {rule.ref} (host {rule.first.host}) for this host, so it copies that "
            "rule's traffic policy (loadBalancer, connectionPool, outlierDetection, portLevelSettings)"
            + (" and subsets" if rule.subsets else "")
            + " to keep them."
        )
    elif mesh_default_private:
        # Without exportTo the mesh default ('.') would hide it from clients in other namespaces.
        spec["exportTo"] = ["*"]
        text_extra = " exportTo ['*'] because the mesh default (defaultDestinationRuleExportTo '.') would keep it private."
    tls_from_new = "port" if tls_from == "port" else "top"
    path, _ = apply_tls(spec, tls_from_new, port, None, mode)
    text_extra = _unblock_auto_at_port(spec, tls_from_new, mode) + text_extra
    if not spec.get("trafficPolicy"):
        spec.pop("trafficPolicy", None)
    name = f"{service_name}-{suffix}"
    for i in range(2, 100):  # bounded: a free name next to existing DestinationRules
        if f"{new_ns}/{name}" not in taken:
            break
        name = f"{service_name}-{suffix}-{i}"
    obj = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": name, "namespace": new_ns},
        "spec": spec,
    }
    text = f"Create DestinationRule {new_ns}/{name} for {fqdn}: {_mode_words(mode)} ({path}).{text_extra}"
    return text, _dump(obj)
