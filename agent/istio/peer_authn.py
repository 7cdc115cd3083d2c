"""Server-side mTLS mode: PeerAuthentication composition and legacy v1alpha1 Policy lookup.

ComposePeerAuthentication: workload > namespace > mesh, UNSET inherits, the oldest PA wins per
level, a root-namespace PA with a selector is ignored, portLevelMtls (TARGET ports) only from the
chosen workload PA, default PERMISSIVE. Legacy: service-specific > namespace > mesh, and no policy
means plaintext. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent.istio.resources import PeerAuthentication, Service


@dataclass(frozen=True)
class ServerModeDecision:
    mode: str  # STRICT | PERMISSIVE | DISABLE
    peer_authentication: str | None  # "ns/name" of the PA that set the mode, None = built-in default
    explanation: str = ""


def _oldest(pas: Iterable[PeerAuthentication]) -> PeerAuthentication | None:
    ordered = sorted(pas, key=lambda p: (p.created, p.name, p.namespace))
    return ordered[0] if ordered else None


def _selects(pa: PeerAuthentication, labels: Mapping[str, str]) -> bool:
    return bool(pa.selector) and all(labels.get(k) == v for k, v in (pa.selector or {}).items())


@dataclass(frozen=True)
class Levels:
    mesh: PeerAuthentication | None
    namespace: PeerAuthentication | None
    workload: PeerAuthentication | None


def pick_levels(
    pas: Iterable[PeerAuthentication], root_ns: str, namespace: str, labels: Mapping[str, str]
) -> Levels:
    pas = list(pas)
    mesh = _oldest(p for p in pas if p.namespace == root_ns and not p.selector)
    ns = None
    workload = None
    if namespace != root_ns:
        ns = _oldest(p for p in pas if p.namespace == namespace and not p.selector)
        workload = _oldest(p for p in pas if p.namespace == namespace and _selects(p, labels))
    return Levels(mesh, ns, workload)


def compose(
    pas: Iterable[PeerAuthentication],
    root_ns: str,
    namespace: str,
    labels: Mapping[str, str],
    target_port: int | None,
) -> ServerModeDecision:
    """Effective PA mode for one workload and target port (ComposePeerAuthentication)."""
    levels = pick_levels(pas, root_ns, namespace, labels)
    mode, source, why = "PERMISSIVE", None, ["no PeerAuthentication sets a mode: default PERMISSIVE"]
    for level, pa in (("mesh", levels.mesh), ("namespace", levels.namespace), ("workload", levels.workload)):
        if pa is not None and pa.mode != "UNSET":
            mode, source = pa.mode, pa.ref
            why = [f"{level} PeerAuthentication {pa.ref} sets {pa.mode}"]
    wl = levels.workload
    if wl is not None and target_port is not None:
        port_mode = wl.port_level.get(target_port, "UNSET")
        if port_mode != "UNSET":
            mode, source = port_mode, wl.ref
            why = [f"portLevelMtls[{target_port}] of workload PeerAuthentication {wl.ref} sets {port_mode}"]
    return ServerModeDecision(mode, source, "; ".join(why))


def namespace_mode(pas: Iterable[PeerAuthentication], root_ns: str, namespace: str) -> str:
    """GetNamespaceMutualTLSMode: ns PA (UNSET -> mesh), else mesh PA, else UNKNOWN.

    Workload- and port-level PAs are invisible here (that is what auto mTLS consults).
    """
    pas = list(pas)
    mesh = _oldest(p for p in pas if p.namespace == root_ns and not p.selector)
    mesh_mode = "UNKNOWN" if mesh is None else ("PERMISSIVE" if mesh.mode == "UNSET" else mesh.mode)
    if namespace != root_ns:
        ns = _oldest(p for p in pas if p.namespace == namespace and not p.selector)
        if ns is not None:
            if ns.mode != "UNSET":
                return ns.mode
            return "PERMISSIVE" if mesh_mode == "UNKNOWN" else mesh_mode
    return mesh_mode


def _target_hits(targets: tuple[tuple[str, tuple[int | str, ...]], ...], svc: Service, port: int) -> bool:
    names = {p.name for p in svc.ports if p.port == port}
    for name, ports in targets:
        if name != svc.name:
            continue
        if not ports or any(p == port or p in names for p in ports):
            return True
    return False


def legacy_mode(
    policies: Iterable[PeerAuthentication], namespace: str, svc: Service | None, port: int | None
) -> ServerModeDecision:
    """v1alpha1: service(-port) Policy > namespace Policy `default` > MeshPolicy `default`."""
    policies = list(policies)
    if svc is not None and port is not None:
        for pol in sorted(policies, key=lambda p: (p.created, p.name)):
            if pol.namespace == namespace and _target_hits(pol.legacy_targets, svc, port):
                return ServerModeDecision(pol.mode, pol.ref, f"service Policy {pol.ref} sets {pol.mode}")
    ns_pol = [
        p for p in policies if p.namespace == namespace and not p.legacy_targets and p.name == "default"
    ]
    if ns_pol:
        pol = ns_pol[0]
        return ServerModeDecision(pol.mode, pol.ref, f"namespace Policy {pol.ref} sets {pol.mode}")
    mesh = [p for p in policies if p.namespace == "" and p.name == "default"]
    if mesh:
        pol = mesh[0]
        return ServerModeDecision(pol.mode, pol.ref, f"MeshPolicy {pol.name} sets {pol.mode}")
    return ServerModeDecision(
        "DISABLE", None, "no legacy authentication Policy: the server accepts plaintext only"
    )
