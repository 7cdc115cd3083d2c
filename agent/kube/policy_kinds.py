"""Which Istio custom resources the policy engine reads, and which served version to list (pure).

All served versions of a CRD expose the same objects (Istio's CRDs use conversion None), so one
version per kind is listed: the server's preferred one among those we understand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PolicyKind:
    group: str
    plural: str
    kind: str
    versions: tuple[str, ...]  # versions we can read, newest first
    namespaced: bool = True  # False: cluster-scoped, not listed when the agent is namespace-scoped


POLICY_KINDS: tuple[PolicyKind, ...] = (
    PolicyKind("networking.istio.io", "destinationrules", "DestinationRule", ("v1", "v1beta1", "v1alpha3")),
    PolicyKind("security.istio.io", "peerauthentications", "PeerAuthentication", ("v1", "v1beta1")),
    # Istio <= 1.5 legacy authentication API, listed only when a (very old) server still serves it.
    PolicyKind("authentication.istio.io", "policies", "Policy", ("v1alpha1",)),
    PolicyKind("authentication.istio.io", "meshpolicies", "MeshPolicy", ("v1alpha1",), namespaced=False),
)


def pick_version(kind: PolicyKind, served: Mapping[str, Sequence[str]]) -> str | None:
    """The first server-preferred version we understand; None when the group is not served."""
    for version in served.get(kind.group, ()):
        if version in kind.versions:
            return version
    return None


def served_from_group_list(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """{group: [versions, preferred first]} from an APIGroupList (`GET /apis`)."""
    served: dict[str, list[str]] = {}
    for group in doc.get("groups") or []:
        if not isinstance(group, dict):
            continue
        versions = [str(v.get("version")) for v in group.get("versions") or [] if isinstance(v, dict)]
        preferred = (group.get("preferredVersion") or {}).get("version")
        if preferred in versions:
            versions.remove(preferred)
            versions.insert(0, preferred)
        served[str(group.get("name"))] = versions
    return served
