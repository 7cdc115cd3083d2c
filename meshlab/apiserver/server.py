"""The aiohttp application: routes for discovery, OpenAPI, REST and pod subresources.

Every request is authenticated (bearer token) before anything else, and every error is a Status body.
Runs on whatever loop the caller provides; owns no threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from meshlab.apiserver import discovery, ephemeral, openapi, podsub
from meshlab.apiserver.accounting import ACCOUNTING, accounting_middleware
from meshlab.apiserver.backend import BACKEND, Backend, authenticate, json_response
from meshlab.apiserver.execws import STREAMING
from meshlab.apiserver.latency import latency_middleware
from meshlab.apiserver.resources import by_plural
from meshlab.apiserver.rest import MAX_BODY, collection, read_body, single
from meshlab.apiserver.status import ApiError, status_body, unknown_path

log = logging.getLogger(__name__)


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ApiError as err:
        response = json_response(err.body, err.code)
    except web.HTTPException as exc:
        if exc.status != 404:
            raise
        response = json_response(unknown_path().body, 404)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:  # a bug or a failing lab callback: a Status body, never an HTML traceback
        log.exception("%s %s failed", request.method, request.path)
        if request.get(STREAMING):  # headers already sent: nothing better to do than drop it
            raise
        response = json_response(status_body(500, f"Internal error occurred: {exc}", "InternalError"), 500)
    # method, path and status only: never headers (bearer tokens) or bodies
    log.debug("%s %s -> %s", request.method, request.path_qs, response.status)
    return response


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
    if group == "authorization.k8s.io" and rest == ["selfsubjectaccessreviews"] and request.method == "POST":
        return await access_review(request, user)
    rt = by_plural(group, rest[0])
    if rt is None or version not in rt.versions or (ns is not None and not rt.namespaced) or len(rest) > 3:
        raise unknown_path()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub == "ephemeralcontainers" and rt.plural == "pods" and ns is not None and name is not None:
        return await ephemeral.handle(request, user, rt, version, ns, name)
    if sub is not None:
        if rt.plural != "pods" or ns is None or name is None or sub not in ("log", "exec", "attach"):
            raise unknown_path()
        return await podsub.handle(request, user, rt, ns, name, sub)
    if name is None:
        return await collection(request, user, rt, version, ns)
    return await single(request, user, rt, version, ns, name)


async def access_review(request: web.Request, user: str) -> web.Response:
    """SelfSubjectAccessReview (`kubectl auth can-i`): the RBAC table's answer for the caller."""
    body = await read_body(request)
    spec = (body or {}).get("spec") or {}
    attrs = spec.get("resourceAttributes")
    if not isinstance(attrs, dict):
        allowed = "nonResourceAttributes" in spec  # non-resource URLs (/healthz...) are open in the lab
    else:
        resource = attrs.get("resource", "")
        if attrs.get("subresource"):
            resource += "/" + attrs["subresource"]
        allowed = request.app[BACKEND].auth.allowed(
            user, attrs.get("verb", ""), resource, attrs.get("group", ""), attrs.get("namespace") or None
        )
    return json_response(
        {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": spec,
            "status": {"allowed": allowed},
        },
        201,
    )


def make_app(backend: Backend) -> web.Application:
    app = web.Application(
        middlewares=[accounting_middleware, errors_middleware, latency_middleware], client_max_size=MAX_BODY
    )
    app[BACKEND] = backend
    app[ACCOUNTING] = backend.accounting
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
