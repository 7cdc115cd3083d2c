"""The resource types the emulator serves: group, versions, plural, kind, scope, discovery hints.

Pure data; no I/O. Add a type here and discovery, REST, RBAC and tables pick it up.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    versions: tuple[str, ...]  # preference order; the first is preferred
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS

    @property
    def qualified(self) -> str:
        """`pods` or `destinationrules.networking.istio.io`, as in Kubernetes messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str | None = None) -> str:
        v = version or self.versions[0]
        return f"{self.group}/{v}" if self.group else v


_ISTIO_NET = ("v1", "v1beta1", "v1alpha3")
_ISTIO_SEC = ("v1", "v1beta1")

RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        ("v1",),
        "namespaces",
        "namespace",
        "Namespace",
        False,
        ("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    ResourceType("", ("v1",), "pods", "pod", "Pod", True, ("po",), ("all",)),
    ResourceType("", ("v1",), "services", "service", "Service", True, ("svc",), ("all",)),
    ResourceType("", ("v1",), "endpoints", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", ("v1",), "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    ResourceType("", ("v1",), "secrets", "secret", "Secret", True),
    ResourceType(
        "authorization.k8s.io",
        ("v1",),
        "selfsubjectaccessreviews",
        "",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
    ResourceType("", ("v1",), "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",)),
    ResourceType("discovery.k8s.io", ("v1",), "endpointslices", "endpointslice", "EndpointSlice", True),
    ResourceType("apps", ("v1",), "deployments", "deployment", "Deployment", True, ("deploy",), ("all",)),
    ResourceType("apps", ("v1",), "replicasets", "replicaset", "ReplicaSet", True, ("rs",), ("all",)),
    ResourceType("apps", ("v1",), "statefulsets", "statefulset", "StatefulSet", True, ("sts",), ("all",)),
    ResourceType("apps", ("v1",), "daemonsets", "daemonset", "DaemonSet", True, ("ds",), ("all",)),
    ResourceType(
        "networking.istio.io",
        _ISTIO_NET,
        "destinationrules",
        "destinationrule",
        "DestinationRule",
        True,
        ("dr",),
        ("istio-io", "networking-istio-io"),
    ),
    ResourceType(
        "networking.istio.io",
        _ISTIO_NET,
        "virtualservices",
        "virtualservice",
        "VirtualService",
        True,
        ("vs",),
        ("istio-io", "networking-istio-io"),
    ),
    ResourceType(
        "networking.istio.io",
        _ISTIO_NET,
        "serviceentries",
        "serviceentry",
        "ServiceEntry",
        True,
        ("se",),
        ("istio-io", "networking-istio-io"),
    ),
    ResourceType(
        "networking.istio.io",
        _ISTIO_NET,
        "sidecars",
        "sidecar",
        "Sidecar",
        True,
        (),
        ("istio-io", "networking-istio-io"),
    ),
    ResourceType(
        "security.istio.io",
        _ISTIO_SEC,
        "peerauthentications",
        "peerauthentication",
        "PeerAuthentication",
        True,
        ("pa",),
        ("istio-io", "security-istio-io"),
    ),
    ResourceType(
        "security.istio.io",
        _ISTIO_SEC,
        "authorizationpolicies",
        "authorizationpolicy",
        "AuthorizationPolicy",
        True,
        ("ap",),
        ("istio-io", "security-istio-io"),
    ),
)


# Added for the real-mesh lab knobs (issue 14): the Telemetry API and the sidecar injector's webhook.
RESOURCE_TYPES += (
    ResourceType(
        "telemetry.istio.io",
        ("v1", "v1alpha1"),
        "telemetries",
        "telemetry",
        "Telemetry",
        True,
        (),
        ("istio-io", "telemetry-istio-io"),
    ),
    ResourceType(
        "admissionregistration.k8s.io",
        ("v1",),
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        False,
        ("mwc",),
        ("api-extensions",),
    ),
)

# Subresources advertised in discovery (kind, verbs); served by dedicated handlers.
POD_SUBRESOURCES = {
    "exec": ("PodExecOptions", ("create", "get")),
    "log": ("Pod", ("get",)),
    "ephemeralcontainers": ("Pod", ("get", "patch", "update")),
}


def by_plural(group: str, plural: str) -> ResourceType | None:
    return next((r for r in RESOURCE_TYPES if r.group == group and r.plural == plural), None)


def by_api_version_kind(api_version: str, kind: str) -> ResourceType | None:
    """Find the type of a manifest (`apiVersion` + `kind`); any served version matches."""
    group, _, version = api_version.rpartition("/")
    for r in RESOURCE_TYPES:
        if r.group == group and r.kind == kind and version in r.versions:
            return r
    return None


def resolve(name: str) -> ResourceType | None:
    """Resolve what a user may type: kind, plural, singular, short name or `plural.group`."""
    low = name.lower()
    for r in RESOURCE_TYPES:
        if low in (r.plural, r.singular, r.kind.lower(), r.qualified, *r.short_names):
            return r
    return None
