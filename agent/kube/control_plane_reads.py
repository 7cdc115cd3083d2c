"""Read what control-plane discovery needs: istiod pods, the injector webhook, the mesh ConfigMap and
the Telemetry resources; a 403 or 404 becomes a Gap naming the object and the permission, never an
exception. The decisions are agent.istio.control_plane's (pure); this module only fetches.
"""

from __future__ import annotations

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
) -> tuple[ControlPlane, dict[str, Any] | None]:
    """The discovered control plane, and the mesh ConfigMap object read (for the policy engine)."""
    gaps: list[Gap] = []
    how: list[str] = []
    pods: list[dict[str, Any]] = []
    if not (overrides.istio_namespace and overrides.revision):
        where = overrides.istio_namespace
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
            lambda n=name: rest.json(f"configmap {ns}/{n}", core.read_namespaced_config_map, n, ns),  # type: ignore[misc]
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


def list_telemetries(
    rest: Rest, core: RawApi, gaps: list[Gap], namespaces: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Every Telemetry (telemetry.istio.io), newest served version first; not served = none.
    Cluster-wide, or given `namespaces` (a scoped agent: the scope + the root namespace), per namespace."""
    for version in TELEMETRY_VERSIONS:
        items: list[dict[str, Any]] = []
        try:
            if namespaces is None:
                items = _items(
                    rest.json(
                        f"list telemetries.telemetry.istio.io/{version}",
                        core.list_cluster_custom_object,
                        "telemetry.istio.io",
                        version,
                        "telemetries",
                    )
                )
            else:
                for ns in namespaces:
                    try:
                        items += _items(
                            rest.json(
                                f"list telemetries.telemetry.istio.io/{version} in {ns}",
                                core.list_namespaced_custom_object,
                                "telemetry.istio.io",
                                version,
                                ns,
                                "telemetries",
                            )
                        )
                    except Forbidden:
                        where = f"namespace {ns}"
                        gaps.append(
                            Gap(
                                f"Telemetry resources in {ns}",
                                "forbidden",
                                f"list telemetries.telemetry.istio.io in {where}",
                                "logging",
                            )
                        )
        except NotFound:
            continue
        except Forbidden:
            gaps.append(
                Gap(
                    "Telemetry resources",
                    "forbidden",
                    "list telemetries.telemetry.istio.io cluster-wide",
                    "logging",
                )
            )
            return []
        for item in items:
            item.setdefault("apiVersion", f"telemetry.istio.io/{version}")
            item.setdefault("kind", "Telemetry")
        return items
    return []
