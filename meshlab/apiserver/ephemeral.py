"""The `pods/{name}/ephemeralcontainers` subresource (GET, PATCH, PUT) and ephemeral container status.

Mirrors the real API server (kubernetes/kubernetes pkg/registry/core/pod/storage, EphemeralContainersREST,
and pkg/apis/core/validation ValidatePodEphemeralContainersUpdate; docs: "Ephemeral Containers",
https://kubernetes.io/docs/concepts/workloads/pods/ephemeral-containers/):
- GET returns the Pod; PATCH (strategic merge as `kubectl debug` sends it, JSON patch, merge patch) and
  PUT (a whole Pod) change only spec.ephemeralContainers (other changes are dropped, as the real
  strategy's dropNonEphemeralContainerUpdates does), and only by adding: existing ephemeral containers
  can be neither changed nor removed (422 Invalid); names are unique across all containers; ports,
  probes, resources and lifecycle are forbidden on them.
- RBAC: `get` / `patch` / `update` on `pods/ephemeralcontainers`.
- The kubelet's part: a new container is reported in status.ephemeralContainerStatuses as waiting
  (ContainerCreating), then running once the backend's `ephemeral_start` hook has started it (the lab
  runs it as a process in the pod's network) or, without a hook, after `ephemeral_start_delay`.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from aiohttp import web

from meshlab.apiserver.backend import BACKEND, authorize, json_response
from meshlab.apiserver.patch import apply_patch
from meshlab.apiserver.resources import ResourceType, by_plural
from meshlab.apiserver.status import ApiError, not_found
from meshlab.apiserver.store import Store, now_rfc3339

_FORBIDDEN_FIELDS = ("ports", "livenessProbe", "readinessProbe", "startupProbe", "resources", "lifecycle")


def _invalid(name: str, field: str, why: str) -> ApiError:
    message = f'Pod "{name}" is invalid: {field}: {why}'
    details = {
        "name": name,
        "kind": "pods",
        "causes": [{"reason": "FieldValueInvalid", "message": why, "field": field}],
    }
    return ApiError(422, message, "Invalid", details)


def _ephemeral(pod: dict[str, Any]) -> list[dict[str, Any]]:
    items = (pod.get("spec") or {}).get("ephemeralContainers") or []
    return [c for c in items if isinstance(c, dict)]


def validate_update(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The ephemeral containers `new` adds to `old`; ApiError 422 when it changes or removes one.

    Call on the result of drop_other_changes (the real strategy's PrepareForUpdate runs first)."""
    name = old["metadata"]["name"]
    before = {c.get("name"): c for c in _ephemeral(old)}
    after = _ephemeral(new)
    after_names = [c.get("name") for c in after]
    for gone in before:
        if gone not in after_names:
            raise _invalid(name, "spec.ephemeralContainers", f'Forbidden: existing ephemeral containers "{gone}" '
                           "may not be removed")  # fmt: skip
    spec = old.get("spec") or {}
    taken = {c.get("name") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])}
    added: list[dict[str, Any]] = []
    for i, c in enumerate(after):
        field = f"spec.ephemeralContainers[{i}]"
        cname = c.get("name")
        if cname in before:
            if c != before[cname]:
                raise _invalid(
                    name, field, f'Forbidden: existing ephemeral containers "{cname}" may not be changed'
                )
            continue
        if not isinstance(cname, str) or not cname:
            raise _invalid(name, f"{field}.name", "Required value")
        if cname in taken or after_names.count(cname) > 1:
            raise _invalid(name, f"{field}.name", f'Duplicate value: "{cname}"')
        if not c.get("image"):
            raise _invalid(name, f"{field}.image", "Required value")
        for key in _FORBIDDEN_FIELDS:
            if c.get(key):
                raise _invalid(name, f"{field}.{key}", "Forbidden: cannot be set for an Ephemeral Container")
        added.append(c)
    return added


def drop_other_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Keep only new's spec.ephemeralContainers; everything else stays as in `old`, silently, as the
    real strategy does (pkg/registry/core/pod/strategy.go, dropNonEphemeralContainerUpdates)."""
    kept = copy.deepcopy(old)
    kept.setdefault("spec", {})["ephemeralContainers"] = copy.deepcopy(_ephemeral(new))
    return kept


def waiting_status(container: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}},
    }


def set_state(store: Store, namespace: str, pod: str, container: str, state: dict[str, Any]) -> bool:
    """Record a container state in status.ephemeralContainerStatuses; False when the pod is gone."""
    current = store.get("pods", namespace, pod)
    if current is None:
        return False
    statuses = (current.setdefault("status", {})).setdefault("ephemeralContainerStatuses", [])
    for cs in statuses:
        if cs.get("name") == container:
            cs["state"] = state
            cs["started"] = "running" in state
            break
    else:
        return False
    pods = by_plural("", "pods")
    assert pods is not None
    try:
        store.replace(
            pods, namespace, {**current, "metadata": {**current["metadata"], "resourceVersion": ""}}
        )
    except ApiError:  # deleted meanwhile
        return False
    return True


def mark_running(store: Store, namespace: str, pod: str, container: str) -> bool:
    return set_state(store, namespace, pod, container, {"running": {"startedAt": now_rfc3339()}})


def mark_terminated(store: Store, namespace: str, pod: str, container: str, code: int, reason: str) -> bool:
    terminated = {"exitCode": code, "reason": reason, "finishedAt": now_rfc3339()}
    return set_state(store, namespace, pod, container, {"terminated": terminated})


async def handle(
    request: web.Request, user: str, rt: ResourceType, version: str, ns: str, name: str
) -> web.StreamResponse:
    from meshlab.apiserver.rest import read_body  # rest imports podsub; avoid the cycle at import time

    backend = request.app[BACKEND]
    verbs = {"GET": "get", "PATCH": "patch", "PUT": "update"}
    verb = verbs.get(request.method)
    if verb is None:
        raise ApiError(
            405, f"the server does not allow this method on the requested resource ({request.method})",
            "MethodNotAllowed",
        )  # fmt: skip
    authorize(request, user, verb, rt, ns, name, "ephemeralcontainers")
    current = backend.store.get(rt, ns, name)
    if current is None:
        raise not_found(rt, name)
    if verb == "get":
        return json_response({**current, "apiVersion": "v1", "kind": "Pod"})
    body = await read_body(request)
    if verb == "update":
        if not isinstance(body, dict):
            raise ApiError(400, "the body of a Pod update must be an object", "BadRequest")
        new = drop_other_changes(current, body)
    else:
        new = drop_other_changes(current, apply_patch(request.content_type, copy.deepcopy(current), body))
    added = validate_update(current, new)
    if "dryRun" in request.query:
        return json_response({**new, "apiVersion": "v1", "kind": "Pod"})
    status = new.setdefault("status", {})
    status["ephemeralContainerStatuses"] = list(
        (current.get("status") or {}).get("ephemeralContainerStatuses") or []
    )
    status["ephemeralContainerStatuses"] += [waiting_status(c) for c in added]
    new["metadata"] = {**current["metadata"], "resourceVersion": ""}  # the subresource never conflicts
    stored = backend.store.replace(rt, ns, new)
    for container in added:
        _start(backend, ns, name, container)
    return json_response({**stored, "apiVersion": "v1", "kind": "Pod"})


def _start(backend: Any, ns: str, name: str, container: dict[str, Any]) -> None:
    """Hand the container to the lab (it marks it running), or mark it running after the delay."""
    store = backend.store
    if backend.ephemeral_start is not None:
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, backend.ephemeral_start, ns, name, copy.deepcopy(container))
        return
    delay = backend.ephemeral_start_delay
    asyncio.get_running_loop().call_later(delay, mark_running, store, ns, name, container["name"])
