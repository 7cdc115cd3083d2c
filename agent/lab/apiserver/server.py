"""The aiohttp application: discovery, REST for every registered type, and the pod subresources.

Every request is authenticated (bearer token) and authorized (RBAC table) before anything else, and
every error is a Status body. Runs on whatever loop the caller provides; owns no threads.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from agent.lab.apiserver import discovery, openapi, podsub
from agent.lab.apiserver.auth import Authenticator
from agent.lab.apiserver.execws import ContainerContext, ExecFault
from agent.lab.apiserver.logs import qbool
from agent.lab.apiserver.patch import apply_patch
from agent.lab.apiserver.resources import ResourceType, by_plural
from agent.lab.apiserver.status import ApiError, forbidden, not_found, unauthorized, unknown_path
from agent.lab.apiserver.store import Store
from agent.lab.apiserver.tables import render_table

MAX_BODY = 64 * 1024 * 1024


@dataclass
class Backend:
    """Everything a request handler may touch."""

    store: Store
    auth: Authenticator
    state_dir: Path
    exec_context: Callable[[str, str, str], ContainerContext | None] | None = None
    log_path: Callable[[str, str, str], Path | None] | None = None
    exec_faults: list[ExecFault] = field(default_factory=list)
    follow_limit: float = 300.0
    address: str = "127.0.0.1:0"
    procs: set[asyncio.subprocess.Process] = field(default_factory=set)
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    stopping: asyncio.Event | None = None


BACKEND: web.AppKey[Backend] = web.AppKey("backend", Backend)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body, separators=(",", ":")).encode(), content_type="application/json"
    )


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except ApiError as err:
        return json_response(err.body, err.code)
    except web.HTTPException as exc:
        if exc.status == 404:
            return json_response(unknown_path().body, 404)
        raise


def authenticate(request: web.Request) -> str:
    user = request.app[BACKEND].auth.user_for(request.headers.get("Authorization"))
    if user is None:
        raise unauthorized()
    return user


def authorize(
    request: web.Request,
    user: str,
    verb: str,
    rt: ResourceType,
    ns: str | None,
    name: str | None,
    sub: str | None = None,
) -> None:
    resource = f"{rt.plural}/{sub}" if sub else rt.plural
    if not request.app[BACKEND].auth.allowed(user, verb, resource, rt.group, ns):
        raise forbidden(rt, name, user, verb, resource, ns)


async def handle_version(request: web.Request) -> web.Response:
    authenticate(request)
    return json_response(discovery.VERSION_INFO)


async def handle_api(request: web.Request) -> web.Response:
    authenticate(request)
    return json_response(discovery.api_versions(request.app[BACKEND].address))


async def handle_apis(request: web.Request) -> web.Response:
    authenticate(request)
    return json_response(discovery.api_group_list())


async def handle_group(request: web.Request) -> web.Response:
    authenticate(request)
    doc = discovery.api_group(request.match_info["group"])
    if doc is None:
        raise unknown_path()
    return json_response(doc)


async def handle_openapi_root(request: web.Request) -> web.Response:
    authenticate(request)
    return json_response(openapi.root())


async def handle_openapi_gv(request: web.Request) -> web.Response:
    authenticate(request)
    doc = openapi.group_version(request.match_info["gv"].strip("/"))
    if doc is None:
        raise unknown_path()
    return json_response(doc)


def _split(request: web.Request) -> tuple[str, str, list[str]]:
    """(group, version, remaining path segments) of a resource URL."""
    info = request.match_info
    group = info.get("group", "")
    rest = [p for p in info.get("rest", "").split("/") if p]
    return group, info["version"], rest


async def handle_resource(request: web.Request) -> web.StreamResponse:
    user = authenticate(request)
    group, version, rest = _split(request)
    if not rest:
        doc = discovery.resource_list(group, version)
        if doc is None:
            raise unknown_path()
        return json_response(doc)
    ns: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    rt = by_plural(group, rest[0])
    if rt is None or version not in rt.versions or (ns is not None and not rt.namespaced) or len(rest) > 3:
        raise unknown_path()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None:
        if rt.plural != "pods" or ns is None or name is None or sub not in ("log", "exec", "attach"):
            raise unknown_path()
        return await podsub.handle(request, user, rt, ns, name, sub)
    if name is None:
        return await _collection(request, user, rt, version, ns)
    return await _object(request, user, rt, version, ns, name)


def _served(obj: dict[str, Any], rt: ResourceType, version: str) -> dict[str, Any]:
    obj["apiVersion"] = rt.api_version(version)  # custom objects are served in the requested version
    obj["kind"] = rt.kind
    return obj


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


async def _body(request: web.Request) -> Any:
    if "protobuf" in request.content_type or "cbor" in request.content_type:
        # client-go retries with JSON after a 415, as it does against servers without protobuf/CBOR.
        # (kubectl's typed commands such as `create namespace` send protobuf; `apply -f` sends JSON.)
        raise ApiError(
            415,
            f"the lab API-server emulator accepts only JSON/YAML bodies, not "
            f"{request.content_type}; use `kubectl apply -f FILE` instead of typed `kubectl create`",
            "UnsupportedMediaType",
        )
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "request entity too large", "RequestEntityTooLarge")
    try:
        return yaml.safe_load(raw) if "yaml" in request.content_type else json.loads(raw or b"null")
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(
            400, f"the request body is not valid {request.content_type}: {exc}", "BadRequest"
        ) from None


async def _collection(
    request: web.Request, user: str, rt: ResourceType, version: str, ns: str | None
) -> web.StreamResponse:
    backend = request.app[BACKEND]
    q = request.query
    if request.method == "GET":
        verb = "watch" if qbool(q, "watch") else "list"
        authorize(request, user, verb, rt, ns, None)
        if verb == "watch":
            return await podsub.watch(request, rt, version, ns, _wants_table(request))
        items = [
            _served(o, rt, version)
            for o in backend.store.list(rt, ns, q.get("labelSelector"), q.get("fieldSelector"))
        ]
        rv = backend.store.resource_version
        if _wants_table(request):
            return json_response(render_table(rt.plural, items, rv))
        return json_response(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version(version),
                "metadata": {"resourceVersion": rv, "continue": ""},
                "items": items,
            }
        )
    if request.method == "POST":
        authorize(request, user, "create", rt, ns, None)
        body = await _body(request)
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


async def _object(
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
    body = await _body(request)
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


def make_app(backend: Backend) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[BACKEND] = backend
    # The Python client asks for `/version/` and `/apis/` with a trailing slash; real servers answer both.
    for slash in ("", "/"):
        app.router.add_get("/version" + slash, handle_version)
        app.router.add_get("/api" + slash, handle_api)
        app.router.add_get("/apis" + slash, handle_apis)
        app.router.add_get("/apis/{group}" + slash, handle_group)
    app.router.add_get("/openapi/v3", handle_openapi_root)
    app.router.add_get("/openapi/v3/{gv:.+}", handle_openapi_gv)
    app.router.add_route("*", "/api/{version}", handle_resource)
    app.router.add_route("*", "/api/{version}/{rest:.*}", handle_resource)
    app.router.add_route("*", "/apis/{group}/{version}", handle_resource)
    app.router.add_route("*", "/apis/{group}/{version}/{rest:.*}", handle_resource)
    return app
