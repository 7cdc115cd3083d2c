"""Parse and validate raw Kubernetes/Istio objects into agent.istio.resources types.

`parse_objects` returns the typed resources plus notes for objects Istio's validation would
reject (naming file and object); rejected objects are left out, unknown kinds are skipped with a
note. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import yaml

from agent.istio.load import SOURCE_KEY
from agent.istio.mesh import running_containers
from agent.istio.resources import (
    DestinationRule,
    Invalid,
    MeshConfig,
    PeerAuthentication,
    Pod,
    Resources,
    Service,
    ServicePort,
)

PA_MODES = {"UNSET", "DISABLE", "PERMISSIVE", "STRICT"}
TLS_MODES = {"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"}
_MESH_KEYS = {"enableAutoMtls", "rootNamespace", "defaultDestinationRuleExportTo", "trustDomain"}
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IGNORED_KINDS = {
    "Namespace", "ServiceAccount", "ConfigMap", "Secret", "Endpoints", "EndpointSlice",
    "VirtualService", "Gateway", "ServiceEntry", "Sidecar", "AuthorizationPolicy",
    "RequestAuthentication", "Telemetry", "EnvoyFilter", "WorkloadEntry", "ReplicaSet",
    "StatefulSet", "DaemonSet", "CustomResourceDefinition",
}  # fmt: skip


def _meta(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    if not isinstance(meta, Mapping):
        raise Invalid("metadata is not a mapping")
    name = str(meta.get("name") or "")
    if not name:
        raise Invalid("metadata.name is missing")
    return str(meta.get("namespace") or "default"), name, _timestamp(meta.get("creationTimestamp"))


def _timestamp(value: Any) -> str:
    """RFC 3339 text; YAML may have parsed an unquoted timestamp into a datetime already."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value or "")


def _labels(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Invalid(f"{what} is not a mapping")
    return {str(k): str(v) for k, v in value.items()}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise Invalid("spec is not a mapping")
    return spec


def parse_service(obj: Mapping[str, Any]) -> Service:
    ns, name, _ = _meta(obj)
    spec = _spec(obj)
    ports = []
    for i, p in enumerate(spec.get("ports") or []):
        if not isinstance(p, Mapping) or not isinstance(p.get("port"), int):
            raise Invalid(f"spec.ports[{i}].port must be an integer")
        target = p.get("targetPort", p["port"])
        ports.append(
            ServicePort(
                port=p["port"],
                target_port=target if isinstance(target, int) else str(target),
                name=str(p.get("name") or ""),
                protocol=str(p.get("protocol") or "TCP").upper(),
            )
        )
    selector = _labels(spec.get("selector"), "spec.selector")
    external = str(spec.get("externalName") or "") if spec.get("type") == "ExternalName" else None
    return Service(ns, name, tuple(ports), selector, spec.get("clusterIP") == "None", external)


def _pod_from_spec(ns: str, name: str, labels: dict[str, str], spec: Mapping[str, Any]) -> Pod:
    containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    ports: dict[str, int] = {}
    for c in containers:
        for p in c.get("ports") or []:
            if isinstance(p, Mapping) and p.get("name") and isinstance(p.get("containerPort"), int):
                ports[str(p["name"])] = p["containerPort"]
    return Pod(
        namespace=ns,
        name=name,
        labels=labels,
        containers=running_containers(spec),
        service_account=str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"),
        container_ports=ports,
    )


def parse_pod(obj: Mapping[str, Any]) -> Pod:
    ns, name, _ = _meta(obj)
    labels = _labels((obj.get("metadata") or {}).get("labels"), "metadata.labels")
    return _pod_from_spec(ns, name, labels, _spec(obj))


def parse_deployment(obj: Mapping[str, Any]) -> Pod:
    """A Deployment's pod template as a stand-in pod (used only when no real pod matches)."""
    ns, name, _ = _meta(obj)
    template = _spec(obj).get("template") or {}
    labels = _labels((template.get("metadata") or {}).get("labels"), "spec.template.labels")
    pod = _pod_from_spec(ns, name, labels, template.get("spec") or {})
    return replace(pod, from_template=True)


def _selector(spec: Mapping[str, Any], key: str) -> dict[str, str] | None:
    sel = spec.get(key)
    if sel is None:
        return None
    if not isinstance(sel, Mapping):
        raise Invalid(f"spec.{key} is not a mapping")
    return _labels(sel.get("matchLabels"), f"spec.{key}.matchLabels")


def _validate_export_to(export_to: list[str], own_ns: str) -> None:
    seen: set[str] = set()
    for e in export_to:
        key = own_ns if e == "." else e
        if key in seen:
            raise Invalid(f"spec.exportTo: duplicate entry {e!r}")
        seen.add(key)
        if e not in (".", "*") and not _DNS1123.match(e):
            raise Invalid(f"spec.exportTo: {e!r} is not '.', '*' or a namespace name")
    if "*" in export_to and len(export_to) > 1:
        raise Invalid("spec.exportTo: '*' cannot be combined with other entries")


def _validate_tls(tls: Any, where: str) -> None:
    if tls is None:
        return
    if not isinstance(tls, Mapping):
        raise Invalid(f"{where}.tls is not a mapping")
    mode = tls.get("mode", "DISABLE")
    if mode not in TLS_MODES:
        raise Invalid(f"{where}.tls.mode {mode!r} is not one of {sorted(TLS_MODES)}")


def _validate_policy(tp: Any, where: str) -> None:
    if tp is None:
        return
    if not isinstance(tp, Mapping):
        raise Invalid(f"{where} is not a mapping")
    _validate_tls(tp.get("tls"), where)
    _validate_parts(tp, where)
    if not isinstance(tp.get("portLevelSettings") or [], list):
        raise Invalid(f"{where}.portLevelSettings must be a list")
    for i, pls in enumerate(tp.get("portLevelSettings") or []):
        number = (pls.get("port") or {}).get("number") if isinstance(pls, Mapping) else None
        if not isinstance(number, int) or not 0 < number < 65536:
            raise Invalid(f"{where}.portLevelSettings[{i}].port.number must be 1-65535")
        _validate_tls(pls.get("tls"), f"{where}.portLevelSettings[{i}]")
        _validate_parts(pls, f"{where}.portLevelSettings[{i}]")


def _validate_parts(tp: Mapping[str, Any], where: str) -> None:
    for key in ("loadBalancer", "connectionPool", "outlierDetection"):
        if tp.get(key) is not None and not isinstance(tp.get(key), Mapping):
            raise Invalid(f"{where}.{key} is not a mapping")


def parse_destination_rule(obj: Mapping[str, Any]) -> DestinationRule:
    ns, name, created = _meta(obj)
    spec = _spec(obj)
    host = spec.get("host")
    if not isinstance(host, str) or not host.strip():
        raise Invalid("spec.host is required")
    raw_export = spec.get("exportTo") or []
    if not isinstance(raw_export, list):
        raise Invalid(f"spec.exportTo must be a list of namespaces, got {raw_export!r}")
    export_to = [str(e) for e in raw_export]
    _validate_export_to(export_to, ns)
    if "~" in export_to:
        raise Invalid("spec.exportTo: '~' is not allowed for DestinationRules")
    selector = _selector(spec, "workloadSelector")
    if selector is not None and any(e not in (".", ns) for e in export_to):
        raise Invalid("spec.exportTo: a DestinationRule with workloadSelector cannot be exported")
    _validate_policy(spec.get("trafficPolicy"), "spec.trafficPolicy")
    subsets = []
    if not isinstance(spec.get("subsets") or [], list):
        raise Invalid("spec.subsets must be a list")
    for i, s in enumerate(spec.get("subsets") or []):
        if not isinstance(s, Mapping) or not s.get("name"):
            raise Invalid(f"spec.subsets[{i}].name is required")
        _validate_policy(s.get("trafficPolicy"), f"spec.subsets[{i}].trafficPolicy")
        subsets.append(s)
    return DestinationRule(
        namespace=ns,
        name=name,
        host=host.strip(),
        export_to=tuple(export_to),
        selector=selector,
        traffic_policy=spec.get("trafficPolicy"),
        subsets=tuple(subsets),
        created=created,
        api_version=str(obj.get("apiVersion") or ""),
        raw=obj,
    )


def parse_peer_authentication(obj: Mapping[str, Any]) -> PeerAuthentication:
    ns, name, created = _meta(obj)
    spec = _spec(obj)
    mtls = spec.get("mtls") or {}
    if not isinstance(mtls, Mapping):
        raise Invalid(f"spec.mtls must be a mapping like {{mode: STRICT}}, got {mtls!r}")
    mode = str(mtls.get("mode") or "UNSET")
    if mode not in PA_MODES:
        raise Invalid(f"spec.mtls.mode {mode!r} is not one of {sorted(PA_MODES)}")
    selector = _selector(spec, "selector")
    port_level: dict[int, str] = {}
    raw_ports = spec.get("portLevelMtls") or {}
    if not isinstance(raw_ports, Mapping):
        raise Invalid("spec.portLevelMtls must be a map of port number -> {mode: ...}")
    if raw_ports and not selector:
        raise Invalid("spec.portLevelMtls requires a selector")
    for key, value in dict(raw_ports).items():
        try:
            port = int(key)
        except (TypeError, ValueError):
            raise Invalid(f"spec.portLevelMtls key {key!r} is not a port number") from None
        if not 0 < port < 65536:
            raise Invalid(f"spec.portLevelMtls key {port} must be 1-65535")
        pmode = str((value or {}).get("mode") or "UNSET") if isinstance(value, Mapping) else "?"
        if pmode not in PA_MODES:
            raise Invalid(f"spec.portLevelMtls[{port}].mode {pmode!r} is invalid")
        port_level[port] = pmode
    return PeerAuthentication(ns, name, selector or None, mode, port_level, created)


def parse_legacy_policy(obj: Mapping[str, Any]) -> PeerAuthentication:
    """authentication.istio.io/v1alpha1 Policy/MeshPolicy: `peers: [{mtls: ...}]`."""
    ns, name, created = _meta(obj)
    spec = _spec(obj)
    if obj.get("kind") == "MeshPolicy":
        ns = ""
        if name != "default":
            raise Invalid("a MeshPolicy must be named 'default'")
    elif name != "default" and not spec.get("targets"):
        raise Invalid("a namespace-wide Policy (no targets) must be named 'default'")
    mode = "DISABLE"  # legacy: no mtls peer means plaintext
    for peer in spec.get("peers") or []:
        if isinstance(peer, Mapping) and "mtls" in peer:
            mtls = peer.get("mtls") or {}
            mode = "PERMISSIVE" if str(mtls.get("mode", "")).upper() == "PERMISSIVE" else "STRICT"
    targets = []
    for t in spec.get("targets") or []:
        if not isinstance(t, Mapping) or not t.get("name"):
            raise Invalid("spec.targets[].name is required")
        ports = tuple(
            p.get("number") or str(p.get("name") or "")
            for p in t.get("ports") or []
            if isinstance(p, Mapping)
        )
        targets.append((str(t["name"]), ports))
    return PeerAuthentication(ns, name, None, mode, {}, created, True, tuple(targets))


def parse_mesh_config(text: Any) -> MeshConfig:
    try:
        data = yaml.safe_load(text) if isinstance(text, str) else dict(text)
    except yaml.YAMLError as exc:
        raise Invalid(f"data.mesh is not valid YAML: {str(exc).splitlines()[0]}") from None
    if isinstance(data, dict):
        data.pop(SOURCE_KEY, None)
    if data is None:
        return MeshConfig()
    if not isinstance(data, Mapping):
        raise Invalid("data.mesh is not a mapping")
    auto = data.get("enableAutoMtls")
    if auto is not None and not isinstance(auto, bool):
        raise Invalid(f"mesh enableAutoMtls must be true or false, got {auto!r}")
    export = data.get("defaultDestinationRuleExportTo") or ["*"]
    if not isinstance(export, list):
        raise Invalid(f"mesh defaultDestinationRuleExportTo must be a list, got {export!r}")
    root = data.get("rootNamespace") or None  # empty: the default
    if root is not None and not (isinstance(root, str) and _DNS1123.match(root)):
        raise Invalid(f"mesh rootNamespace {root!r} is not a namespace name")
    return MeshConfig(
        root_namespace=root or "istio-system",
        enable_auto_mtls=None if auto is None else bool(auto),
        default_dr_export_to=tuple(str(e) for e in export),
        trust_domain=str(data.get("trustDomain") or "cluster.local"),
    )


def _mesh_configmap(obj: Mapping[str, Any]) -> bool:
    """The mesh ConfigMap: `istio`, or `istio-<rev>` of a revisioned install (the helm chart's name,
    istio/istio manifests/charts/istio-control/istio-discovery/templates/configmap.yaml) with a mesh."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    data = obj.get("data")
    return name == "istio" or (name.startswith("istio-") and isinstance(data, Mapping) and "mesh" in data)


def describe(obj: Mapping[str, Any]) -> str:
    raw_meta = obj.get("metadata")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    ns = meta.get("namespace") or "default"
    where = obj.get(SOURCE_KEY)
    text = f"{obj.get('kind', '?')} {ns}/{meta.get('name', '?')}"
    return f"{where}: {text}" if where else text


def parse_objects(objects: list[dict[str, Any]]) -> Resources:
    """Sort raw objects into typed resources; reject invalid ones with a note each."""
    res = Resources()
    templates: list[Pod] = []
    mesh_from: list[str] = []  # where mesh configs came from: more than one is ambiguous
    for obj in objects:
        if not isinstance(obj, Mapping):
            res.notes.append(f"skipped a non-object entry: {str(obj)[:60]!r}")
            continue
        kind = str(obj.get("kind") or "")
        group = str(obj.get("apiVersion") or "").split("/")[0]
        try:
            if kind == "DestinationRule" and group == "networking.istio.io":
                res.destination_rules.append(parse_destination_rule(obj))
            elif kind == "PeerAuthentication" and group == "security.istio.io":
                res.peer_authentications.append(parse_peer_authentication(obj))
            elif kind in ("Policy", "MeshPolicy") and group == "authentication.istio.io":
                res.legacy_policies.append(parse_legacy_policy(obj))
            elif kind == "Service" and group in ("v1", ""):
                res.services.append(parse_service(obj))
            elif kind == "Pod":
                res.pods.append(parse_pod(obj))
            elif kind == "Deployment":
                templates.append(parse_deployment(obj))
            elif kind == "ConfigMap" and _mesh_configmap(obj):
                mesh = (obj.get("data") or {}).get("mesh")
                if mesh is not None:
                    res.mesh = parse_mesh_config(mesh)
                    mesh_from.append(describe(obj))
            elif not kind and _MESH_KEYS & set(obj):
                res.mesh = parse_mesh_config(obj)  # a bare mesh config file (istioctl --meshConfigFile)
                mesh_from.append(describe(obj))
            elif kind not in _IGNORED_KINDS:
                res.notes.append(f"{describe(obj)}: unknown kind {kind!r} (skipped)")
        except (Invalid, AttributeError, TypeError, ValueError) as exc:
            res.notes.append(f"{describe(obj)}: invalid: {exc} (skipped)")
    if len(mesh_from) > 1:
        res.notes.append(
            f"more than one mesh config ({'; '.join(mesh_from)}): the last one is used "
            f"(rootNamespace {res.mesh.root_namespace})"
        )
    # A Deployment template stands in for pods only when no real pod carries its labels.
    for tpl in templates:
        if not any(p.namespace == tpl.namespace and _subset(tpl.labels, p.labels) for p in res.pods):
            res.pods.append(tpl)
    return res


def _subset(small: Mapping[str, str], big: Mapping[str, str]) -> bool:
    return bool(small) and all(big.get(k) == v for k, v in small.items())
