"""REST verbs for every registered type: list/watch, get, create, replace, patch, delete, deletecollection.

Authorizes each request with the verb Kubernetes would use; custom objects are served in the requested
version; Tables for kubectl's human output. No pod subresources here (see podsub).
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web

from meshlab.apiserver import protobuf, watch
from meshlab.apiserver.backend import BACKEND, authorize, json_response
from meshlab.apiserver.listing import list_page
from meshlab.apiserver.logs import qbool
from meshlab.apiserver.patch import apply_patch
from meshlab.apiserver.resources import ResourceType, by_plural
from meshlab.apiserver.status import ApiError, not_found
from meshlab.apiserver.tables import render_table

MAX_BODY = 64 * 1024 * 1024


def _served(obj: dict[str, Any], rt: ResourceType, version: str) -> dict[str, Any]:
    obj["apiVersion"] = rt.api_version(version)  # custom objects are served in the requested version
    obj["kind"] = rt.kind
    return obj


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


async def read_body(request: web.Request) -> Any:
    """The request body as JSON-shaped data: JSON, YAML, or the protobuf kubectl's typed commands send."""
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "request entity too large", "RequestEntityTooLarge")
    ctype = request.content_type
    if "protobuf" in ctype or "cbor" in ctype:
        try:
            return protobuf.decode(raw) if "protobuf" in ctype else protobuf.decode(b"")
        except ValueError as exc:
            raise ApiError(
                415,
                f"the lab API-server emulator cannot read this {ctype} body: {exc}",
                "UnsupportedMediaType",
            ) from None
    try:
        return yaml.safe_load(raw) if "yaml" in ctype else json.loads(raw or b"null")
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(400, f"the request body is not valid {ctype}: {exc}", "BadRequest") from None


async def collection(
    request: web.Request, user: str, rt: ResourceType, version: str, ns: str | None
) -> web.StreamResponse:
    backend = request.app[BACKEND]
    q = request.query
    if request.method == "GET":
        verb = "watch" if qbool(q, "watch") else "list"
        authorize(request, user, verb, rt, ns, None)
        if verb == "watch":
            return await watch.watch(request, rt, version, ns, _wants_table(request))
        page = list_page(backend.store, rt, ns, q)
        items = [_served(o, rt, version) for o in page.items]
        meta: dict[str, Any] = {"resourceVersion": page.resource_version, "continue": page.continue_token}
        if page.remaining is not None:
            meta["remainingItemCount"] = page.remaining
        if _wants_table(request):
            table = render_table(rt.plural, items, page.resource_version)
            table["metadata"] = meta
            return json_response(table)
        return json_response(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version(version),
                "metadata": meta,
                "items": items,
            }
        )
    if request.method == "POST":
        authorize(request, user, "create", rt, ns, None)
        body = await read_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, f"the body of a {rt.kind} create must be an object", "BadRequest")
        if ns is not None and backend.store.get("namespaces", None, ns) is None:
            raise not_found(by_plural("", "namespaces"), ns)  # type: ignore[arg-type]
        if qbool(q, "dryRun") or q.get("dryRun") == "All":
            return json_response(_served(body, rt, version), 201)
        return json_response(_served(backend.store.create(rt, ns, body), rt, version), 201)
    if request.method == "DELETE":
        authorize(request, user, "deletecollection", rt, ns, None)
        for obj in backend.store.list(rt, ns, q.get("labelSelector"), q.get("fieldSelector")):
            backend.store.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
    raise ApiError(
        405,
        f"the server does not allow this method on the requested resource ({request.method})",
        "MethodNotAllowed",
    )


async def single(
    request: web.Request, user: str, rt: ResourceType, version: str, ns: str | None, name: str
) -> web.StreamResponse:
    store = request.app[BACKEND].store
    verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    verb = verbs.get(request.method)
    if verb is None:
        raise ApiError(
            405,
            f"the server does not allow this method on the requested resource ({request.method})",
            "MethodNotAllowed",
        )
    authorize(request, user, verb, rt, ns, name)
    current = store.get(rt, ns, name)
    dry_run = "dryRun" in request.query
    if verb == "get":
        if current is None:
            raise not_found(rt, name)
        current = _served(current, rt, version)
        if _wants_table(request):
            return json_response(render_table(rt.plural, [current], current["metadata"]["resourceVersion"]))
        return json_response(current)
    if verb == "delete":
        if current is None:
            raise not_found(rt, name)
        deleted = current if dry_run else store.delete(rt, ns, name) or current
        return json_response(_served(deleted, rt, version))
    body = await read_body(request)
    if verb == "update":
        if not isinstance(body, dict):
            raise ApiError(400, f"the body of a {rt.kind} update must be an object", "BadRequest")
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise ApiError(
                400,
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})",
                "BadRequest",
            )
        if current is None:
            raise not_found(rt, name)
        return json_response(_served(body if dry_run else store.replace(rt, ns, body), rt, version))
    # PATCH (merge, json, strategic, apply); server-side apply may create
    if current is None:
        if request.content_type.startswith("application/apply-patch") and isinstance(body, dict):
            return json_response(_served(store.create(rt, ns, body), rt, version), 201)
        raise not_found(rt, name)
    patched = apply_patch(request.content_type, current, body)
    patched.setdefault("metadata", {})["name"] = name
    patched["metadata"].pop("resourceVersion", None)  # a patch never conflicts unless it sets one
    if isinstance(body, dict) and (body.get("metadata") or {}).get("resourceVersion"):
        patched["metadata"]["resourceVersion"] = body["metadata"]["resourceVersion"]
    return json_response(_served(patched if dry_run else store.replace(rt, ns, patched), rt, version))
