"""The three API calls ephemeral probe containers need, over LiveCluster's RawApi and Rest.

- the raw Pod JSON (spec.ephemeralContainers, status.ephemeralContainerStatuses);
- PATCH pods/{name}/ephemeralcontainers with a strategic merge patch (what `kubectl debug` sends;
  merging by name makes a repeated add of the same container a no-op);
- a SelfSubjectAccessReview (`kubectl auth can-i`), which every authenticated user may create.
Errors leave as agent.errors (through Rest). No logic about when to call them (agent.kube.ephemeral).
"""

from __future__ import annotations

from typing import Any

from agent.errors import ClusterError
from agent.kube.raw_api import RawApi
from agent.kube.rest import Rest

STRATEGIC = "application/strategic-merge-patch+json"


class EphemeralCalls:
    def __init__(self, core: RawApi, rest: Rest) -> None:
        self._core = core
        self._rest = rest

    def pod_json(self, namespace: str, name: str) -> dict[str, Any]:
        doc = self._rest.json(f"pod {namespace}/{name}", self._core.read_namespaced_pod, name, namespace)
        if not isinstance(doc, dict):
            raise ClusterError(f"pod {namespace}/{name}: the API server sent a non-object body")
        return doc

    def patch_ephemeral_containers(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        doc = self._rest.json(
            f"pods/ephemeralcontainers of pod {namespace}/{name}",
            self._core.patch_namespaced_pod_ephemeralcontainers,
            name,
            namespace,
            patch,
            STRATEGIC,
        )
        return doc if isinstance(doc, dict) else {}

    def can_i(self, namespace: str, verb: str, resource: str, subresource: str = "") -> bool:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "group": "",
                    "resource": resource,
                    "subresource": subresource,
                }
            },
        }
        doc = self._rest.json(
            f"access review {verb} {resource}/{subresource} in {namespace}",
            self._core.create_self_subject_access_review,
            review,
        )
        status = doc.get("status") if isinstance(doc, dict) else None
        return isinstance(status, dict) and status.get("allowed") is True
