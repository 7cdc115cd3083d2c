"""Which control plane serves a workload: istiod's namespace and revision, its mesh ConfigMap, and
the mesh settings taken from it (root namespace, trust domain, access logging, auto mTLS).

Pure, no I/O: the kube layer (agent.kube.control_plane_reads) fetches what `discover` asks for and
reports each object it could not read. Facts from istio/istio 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c:
- manifests/charts/istio-control/istio-discovery/templates/deployment.yaml: istiod pods are labelled
  `app: istiod` and `istio.io/rev: <revision or "default">`, in the install namespace.
- .../templates/configmap.yaml: the mesh ConfigMap is `istio` or `istio-<rev>`, in that namespace,
  with `rootNamespace` defaulting to the install namespace; pkg/config/mesh/mesh.go DefaultMeshConfig:
  rootNamespace istio-system and trustDomain cluster.local when the ConfigMap does not say.
- .../templates/mutatingwebhook.yaml: MutatingWebhookConfiguration `istio-sidecar-injector[-<rev>]`
  labelled `istio.io/rev`, whose webhooks call service `istiod[-<rev>]` in the install namespace.
- pkg/kube/inject/inject.go `SidecarInjectionStatus.Revision`: the injected pod's
  `sidecar.istio.io/status` annotation names the revision that injected it; the injector also
  labels the pod `istio.io/rev`.
A config block (agent config `mesh:`) overrides every discovered value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.istio.mesh import DEFAULT_CLUSTER_DOMAIN as DEFAULT_DOMAIN
from agent.istio.mesh import DEFAULT_ISTIO_NAMESPACE as DEFAULT_NAMESPACE
from agent.istio.mesh import MESH_CONFIGMAP
from agent.istio.mesh import REVISION_LABEL as REV_LABEL
from agent.istio.mesh import SIDECAR_STATUS_ANNOTATION as STATUS_ANNOTATION


@dataclass(frozen=True)
class MeshOverrides:
    """The agent config's `mesh:` block; None = discover."""

    istio_namespace: str | None = None
    revision: str | None = None
    cluster_domain: str | None = None
    root_namespace: str | None = None


@dataclass(frozen=True)
class Gap:
    """An object the agent could not read: what, why (forbidden / not found), and what would allow it."""

    obj: str  # e.g. "ConfigMap istio-system/istio-1-30"
    reason: str  # "forbidden" | "not found"
    permission: str  # e.g. "get configmaps in namespace istio-system"
    # What the missing object feeds: "policy" (mesh config: root namespace, auto mTLS; verdicts that
    # rest on the policy view drop to low confidence), "logging" (Telemetry: whether sidecars log),
    # "discovery" (where istiod runs: a fallback exists).
    affects: str = "policy"

    def text(self) -> str:
        if self.reason == "forbidden":
            return f"{self.obj}: forbidden (needs {self.permission})"
        return f"{self.obj}: not found"


@dataclass(frozen=True)
class ControlPlane:
    istio_namespace: str
    revision: str | None  # None: the default (un-revisioned) install
    configmap: str | None  # the ConfigMap actually read; None when none could be
    mesh: Mapping[str, Any] = field(default_factory=dict)  # meshConfig (parsed `data.mesh`)
    root_namespace: str = DEFAULT_NAMESPACE
    trust_domain: str = DEFAULT_DOMAIN
    cluster_domain: str = DEFAULT_DOMAIN
    how: tuple[str, ...] = ()  # where each value came from, for the status page
    gaps: tuple[Gap, ...] = ()

    @property
    def partial(self) -> bool:
        return bool(self.gaps)

    def gaps_affecting(self, what: str) -> tuple[Gap, ...]:
        return tuple(g for g in self.gaps if g.affects == what)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _rev(value: Any) -> str | None:
    """A revision label value; "default" means the un-revisioned install."""
    text = str(value or "").strip()
    return None if not text or text == "default" else text


def revision_of_pod(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str | None:
    """The revision that injected this pod: its `istio.io/rev` label, else the status annotation's."""
    if REV_LABEL in labels:
        return _rev(labels[REV_LABEL])
    try:
        status = json.loads(annotations.get(STATUS_ANNOTATION) or "{}")
    except ValueError:
        return None
    return _rev(status.get("revision")) if isinstance(status, dict) else None


def istiod_namespace(
    revision: str | None, istiod_pods: Iterable[Mapping[str, Any]], webhooks: Iterable[Mapping[str, Any]]
) -> tuple[str | None, str]:
    """Namespace of the istiod serving `revision`: from its pods, else from the injector webhook."""
    want = revision or "default"
    for pod in istiod_pods:
        meta = _dict(pod.get("metadata"))
        labels = _dict(meta.get("labels"))
        if (
            labels.get("app") == "istiod"
            and str(labels.get(REV_LABEL) or "default") == want
            and meta.get("namespace")
        ):
            return str(meta["namespace"]), f"istiod pod {meta['namespace']}/{meta.get('name')}"
    suffix = f"-{revision}" if revision else ""
    for hook in webhooks:
        meta = _dict(hook.get("metadata"))
        labels = _dict(meta.get("labels"))
        named = str(meta.get("name") or "").startswith(f"istio-sidecar-injector{suffix}")
        if str(labels.get(REV_LABEL) or "default") != want and not named:
            continue
        for wh in hook.get("webhooks") or []:
            svc = _dict(_dict(_dict(wh).get("clientConfig")).get("service"))
            if svc.get("name") == f"istiod{suffix}" and svc.get("namespace"):
                return str(svc["namespace"]), f"injector webhook {meta.get('name')}"
    return None, ""


def configmap_names(revision: str | None) -> tuple[str, ...]:
    """ConfigMaps to try, in order: `istio-<rev>` then `istio` for a revision, else `istio`."""
    return (f"{MESH_CONFIGMAP}-{revision}", MESH_CONFIGMAP) if revision else (MESH_CONFIGMAP,)


def revisions_running(istiod_pods: Iterable[Mapping[str, Any]]) -> list[str | None]:
    revs = {
        _rev(_dict(_dict(p.get("metadata")).get("labels")).get(REV_LABEL))
        for p in istiod_pods
        if _dict(_dict(p.get("metadata")).get("labels")).get("app") == "istiod"
    }
    return sorted(revs, key=lambda r: r or "")


def settle(
    overrides: MeshOverrides,
    revision: str | None,
    namespace: str,
    configmap: str | None,
    mesh: Mapping[str, Any],
    how: list[str],
    gaps: list[Gap],
) -> ControlPlane:
    """The final view: overrides first, then the ConfigMap's values, then Istio's defaults."""
    if overrides.root_namespace:
        root, root_how = overrides.root_namespace, "mesh.rootNamespace from the agent config"
    elif mesh.get("rootNamespace"):
        root, root_how = str(mesh["rootNamespace"]), f"rootNamespace from ConfigMap {namespace}/{configmap}"
    elif configmap is None:
        # The chart renders rootNamespace = the install namespace; without the ConfigMap that is the best guess.
        root, root_how = namespace, "rootNamespace unknown (no mesh ConfigMap): assumed the istio namespace"
    else:
        root, root_how = DEFAULT_NAMESPACE, "rootNamespace not set: Istio's default istio-system"
    domain = overrides.cluster_domain or DEFAULT_DOMAIN
    return ControlPlane(
        istio_namespace=namespace,
        revision=revision,
        configmap=configmap,
        mesh=dict(mesh),
        root_namespace=root,
        trust_domain=str(mesh.get("trustDomain") or DEFAULT_DOMAIN),
        cluster_domain=domain,
        how=(*how, root_how),
        gaps=tuple(gaps),
    )


def pick_revision(
    overrides: MeshOverrides,
    source_labels: Mapping[str, str] | None,
    source_annotations: Mapping[str, str] | None,
    istiod_pods: Sequence[Mapping[str, Any]],
) -> tuple[str | None, str]:
    """The revision to read: config, else the source pod's, else the only running istiod's."""
    if overrides.revision:
        return _rev(overrides.revision), "revision from the agent config"
    if source_labels is not None:
        rev = revision_of_pod(source_labels, source_annotations or {})
        if rev or REV_LABEL in source_labels or STATUS_ANNOTATION in (source_annotations or {}):
            return rev, f"revision {rev or 'default'} from the source pod"
    running = revisions_running(istiod_pods)
    if len(running) == 1:
        return running[0], f"revision {running[0] or 'default'}: the only istiod running"
    return None, "revision default (none named, no single istiod found)"
