"""Read what control-plane discovery needs: istiod pods, the injector webhook, the mesh ConfigMap and
the Telemetry resources; a 403 or 404 becomes a Gap naming the object and the permission, never an
exception. The decisions are agent.istio.control_plane's (pure); this module only fetches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml

from agent.errors import Forbidden, NotFound
from agent.istio.control_plane import (
    DEFAULT_NAMESPACE,
    ControlPlane,
    Gap,
    MeshOverrides,
    configmap_names,
    istiod_namespace,
    pick_revision,
    settle,
)
from agent.kube.raw_api import RawApi
from agent.kube.rest import Rest

TELEMETRY_VERSIONS = ("v1", "v1beta1", "v1alpha1")


def _items(doc: Any) -> list[dict[str, Any]]:
    return [i for i in (doc.get("items") or []) if isinstance(i, dict)] if isinstance(doc, dict) else []


def _try(
    gaps: list[Gap],
    obj: str,
    permission: str,
    call: Callable[[], Any],
    report_404: bool = True,
    affects: str = "policy",
) -> Any:
    try:
        return call()
    except Forbidden:
        gaps.append(Gap(obj, "forbidden", permission, affects))
    except NotFound:
        if report_404:
            gaps.append(Gap(obj, "not found", permission, affects))
    return None


def _mesh_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    text = (doc.get("data") or {}).get("mesh") if isinstance(doc.get("data"), dict) else None
    try:
        mesh = yaml.safe_load(text) if isinstance(text, str) else None
    except yaml.YAMLError:
        return {}
    return mesh if isinstance(mesh, dict) else {}


def read_control_plane(
    rest: Rest,
    core: RawApi,
    overrides: MeshOverrides,
    source_labels: Mapping[str, str] | None = None,
    source_annotations: Mapping[str, str] | None = None,
    scoped: bool = False,
) -> tuple[ControlPlane, dict[str, Any] | None]:
    """The discovered control plane, and the mesh ConfigMap object read (for the policy engine).
    `scoped`: the agent lists per namespace (namespaced RBAC), so no cluster-wide pod list."""
    gaps: list[Gap] = []
    how: list[str] = []
    pods: list[dict[str, Any]] = []
    if not (overrides.istio_namespace and overrides.revision):
        # A namespace-scoped agent may not list pods cluster-wide: it looks where istiod usually runs.
        where = overrides.istio_namespace or (DEFAULT_NAMESPACE if scoped else None)
        if where:
            call: Callable[[], Any] = lambda: rest.json(  # noqa: E731
                f"list istiod pods in {where}", core.list_namespaced_pod, where, label_selector="app=istiod"
            )
            permission = f"list pods in namespace {where}"
        else:
            call = lambda: rest.json(  # noqa: E731
                "list istiod pods", core.list_pod_for_all_namespaces, label_selector="app=istiod"
            )
            permission = "list pods cluster-wide"
        pods = _items(_try(gaps, "istiod pods (app=istiod)", permission, call, False, "discovery"))
    revision, rev_how = pick_revision(overrides, source_labels, source_annotations, pods)
    how.append(rev_how)
    namespace = overrides.istio_namespace
    if namespace:
        how.append(f"istio namespace {namespace} from the agent config")
    else:
        namespace, ns_how = istiod_namespace(revision, pods, [])
        if namespace is None:
            selector = f"istio.io/rev={revision or 'default'}"
            hooks = _try(
                gaps,
                "MutatingWebhookConfiguration istio-sidecar-injector",
                "list mutatingwebhookconfigurations.admissionregistration.k8s.io",
                lambda: rest.json(
                    "list injector webhooks",
                    core.list_mutating_webhook_configuration,
                    label_selector=selector,
                ),
                report_404=False,
                affects="discovery",  # istiod's namespace: Istio's default remains
            )
            namespace, ns_how = istiod_namespace(revision, [], _items(hooks))
        if namespace is None:
            namespace, ns_how = (
                DEFAULT_NAMESPACE,
                f"istio namespace {DEFAULT_NAMESPACE} (Istio's default; istiod not found)",
            )
        how.append(ns_how)
    ns = namespace
    found: dict[str, Any] | None = None
    name_read: str | None = None
    misses: list[Gap] = []
    for name in configmap_names(revision):
        doc = _try(
            misses,
            f"ConfigMap {ns}/{name}",
            f"get configmaps in namespace {ns}",
            functools.partial(rest.json, f"configmap {ns}/{name}", core.read_namespaced_config_map, name, ns),
        )
        if isinstance(doc, dict):
            found, name_read = doc, name
            break
    if found is None:
        gaps.extend(misses)  # a missing `istio-<rev>` is fine when `istio` is there; both missing is not
    else:
        gaps.extend(g for g in misses if g.reason == "forbidden")
        found.setdefault("apiVersion", "v1")
        found.setdefault("kind", "ConfigMap")
        how.append(f"mesh config from ConfigMap {ns}/{name_read}")
    plane = settle(overrides, revision, ns, name_read, _mesh_of(found) if found else {}, how, gaps)
    return plane, found


def list_optional(
    rest: Rest,
    core: RawApi,
    gaps: list[Gap],
    namespaces: Sequence[str] | None,
    kind: tuple[str, str, str, tuple[str, ...]],
    affects: str,
) -> list[dict[str, Any]]:
    """Every object of an optional Istio kind (group, plural, Kind, versions newest first) at the first
    served version; not served = none; forbidden = a Gap (never an exception). Cluster-wide, or given
    `namespaces` (a scoped agent: the scope + the root namespace), per namespace."""
    group, plural, kind_name, versions = kind
    for version in versions:
        items: list[dict[str, Any]] = []
        what = f"list {plural}.{group}/{version}"
        try:
            if namespaces is None:
                items = _items(rest.json(what, core.list_cluster_custom_object, group, version, plural))
            else:
                for ns in namespaces:
                    try:
                        items += _items(
                            rest.json(
                                f"{what} in {ns}",
                                core.list_namespaced_custom_object,
                                group,
                                version,
                                ns,
                                plural,
                            )
                        )
                    except Forbidden:
                        gaps.append(
                            Gap(
                                f"{kind_name} resources in {ns}",
                                "forbidden",
                                f"list {plural}.{group} in namespace {ns}",
                                affects,
                            )
                        )
        except NotFound:
            continue
        except Forbidden:
            gaps.append(
                Gap(f"{kind_name} resources", "forbidden", f"list {plural}.{group} cluster-wide", affects)
            )
            return []
        for item in items:
            item.setdefault("apiVersion", f"{group}/{version}")
            item.setdefault("kind", kind_name)
        return items
    return []


TELEMETRY = ("telemetry.istio.io", "telemetries", "Telemetry", TELEMETRY_VERSIONS)
VIRTUAL_SERVICE = ("networking.istio.io", "virtualservices", "VirtualService", ("v1", "v1beta1", "v1alpha3"))


def list_telemetries(
    rest: Rest, core: RawApi, gaps: list[Gap], namespaces: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Every Telemetry (whether sidecars log); see list_optional."""
    return list_optional(rest, core, gaps, namespaces, TELEMETRY, "logging")


def list_virtual_services(
    rest: Rest, core: RawApi, gaps: list[Gap], namespaces: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Every VirtualService (which subset a request is routed to); see list_optional."""
    return list_optional(rest, core, gaps, namespaces, VIRTUAL_SERVICE, "routing")
