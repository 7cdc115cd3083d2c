"""Minimal OpenAPI v3 documents: enough for kubectl to see that the server validates fields itself.

kubectl apply/create/edit ask /openapi/v3 whether a type's PATCH accepts `fieldValidation`; with a
yes they send `fieldValidation=Strict` and skip client-side schema checks, which would otherwise need
the full schemas. Pure; no I/O. Schemas are deliberately absent (free-form objects).
"""

from __future__ import annotations

from typing import Any

from meshlab.apiserver.resources import RESOURCE_TYPES

_HASH = "meshprober-lab-0"


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root() -> dict[str, Any]:
    paths = {}
    for rt in RESOURCE_TYPES:
        for v in rt.versions:
            gv = _gv_path(rt.group, v)
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_HASH}"}
    return {"paths": paths}


def group_version(gv_path: str) -> dict[str, Any] | None:
    paths: dict[str, Any] = {}
    for rt in RESOURCE_TYPES:
        for v in rt.versions:
            if _gv_path(rt.group, v) != gv_path:
                continue
            gvk = {"group": rt.group, "version": v, "kind": rt.kind}
            scope = "/namespaces/{namespace}" if rt.namespaced else ""
            params = [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            ]
            op = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {}}
            paths[f"/{gv_path}{scope}/{rt.plural}/{{name}}"] = {
                "patch": {**op, "operationId": f"patch{rt.kind}"},
                "put": {**op, "operationId": f"replace{rt.kind}"},
            }
            paths[f"/{gv_path}{scope}/{rt.plural}"] = {"post": {**op, "operationId": f"create{rt.kind}"}}
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.1"},
        "paths": paths,
        "components": {"schemas": {}},
    }
