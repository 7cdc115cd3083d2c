"""Pod subresources (log, exec) and watch streams: the long-lived responses.

Checks run in the real server's order: authorization, pod lookup, container validation, then the
request's own options. Every stream is bounded (follow/watch time limit, server stop, client gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from meshlab.apiserver import logs
from meshlab.apiserver.backend import BACKEND, Backend, authorize
from meshlab.apiserver.execws import STREAMING, ContainerContext, serve_exec
from meshlab.apiserver.resources import ResourceType
from meshlab.apiserver.selectors import object_fields, parse_field_selector, parse_selector
from meshlab.apiserver.status import ApiError, bad_request, not_found
from meshlab.apiserver.tables import render_table

_POLL = 0.2


def _backend(request: web.Request) -> Backend:
    return request.app[BACKEND]


def container_names(pod: dict[str, Any]) -> tuple[list[str], list[str]]:
    spec = pod.get("spec") or {}
    return (
        [c.get("name", "") for c in spec.get("containers") or []],
        [c.get("name", "") for c in spec.get("initContainers") or []],
    )


def validate_container(pod: dict[str, Any], container: str | None) -> str:
    """The container to use, or ApiError 400 worded like the real validateContainer."""
    name = pod["metadata"]["name"]
    containers, inits = container_names(pod)
    ephemerals = [c.get("name", "") for c in (pod.get("spec") or {}).get("ephemeralContainers") or []]
    if not container:
        if len(containers) == 1:
            return containers[0]
        msg = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
        if inits:
            msg += f" or one of the init containers: [{' '.join(inits)}]"
        raise bad_request(msg)
    if container not in containers and container not in inits and container not in ephemerals:
        raise bad_request(f"container {container} is not valid for pod {name}")
    return container


def _check_started(pod: dict[str, Any], container: str) -> None:
    """Logs of a container that never started are a 400, worded like the real server."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if cs.get("name") == container and waiting is not None:
            raise bad_request(
                f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: '
                f"{waiting.get('reason', 'ContainerCreating')}"
            )


def default_context(backend: Backend, pod: dict[str, Any], container: str) -> ContainerContext:
    """A per-pod temp dir, the container's literal env from the pod spec, and the host PATH."""
    meta = pod["metadata"]
    cwd = backend.state_dir / "pods" / meta["namespace"] / meta["name"] / container
    cwd.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": meta["name"], "HOME": str(cwd)}
    spec = pod.get("spec") or {}
    for c in (
        (spec.get("containers") or [])
        + (spec.get("initContainers") or [])
        + (spec.get("ephemeralContainers") or [])
    ):
        if c.get("name") == container:
            env.update(
                {e["name"]: str(e["value"]) for e in c.get("env") or [] if "name" in e and "value" in e}
            )
    return ContainerContext(cwd=cwd, env=env)


async def handle(
    request: web.Request, user: str, rt: ResourceType, ns: str, name: str, sub: str
) -> web.StreamResponse:
    backend = _backend(request)
    if sub == "log":
        authorize(request, user, "get", rt, ns, name, "log")
        if request.method != "GET":
            raise ApiError(
                405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
            )
        opts = logs.parse_options(name, request.query)
    else:
        authorize(request, user, "get" if request.method == "GET" else "create", rt, ns, name, sub)
        if request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket":
            # Kubernetes >= 1.35 (AuthorizePodWebsocketUpgradeCreatePermission, on by default) also
            # requires `create` for a websocket upgrade; we emulate 1.37.
            authorize(request, user, "create", rt, ns, name, sub)
    pod = backend.store.get(rt, ns, name)
    if pod is None:
        raise not_found(rt, name)
    container = validate_container(pod, request.query.get("container"))
    if sub == "log":
        _check_started(pod, container)
        return await _serve_log(request, backend, pod, container, opts)
    if sub == "attach":
        raise bad_request("attach is not supported by the lab API-server emulator; use exec")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        if request.headers.get("Upgrade", "").lower().startswith("spdy"):
            raise bad_request(
                "SPDY is not supported by this emulator; use WebSocket exec "
                "(do not set KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)"
            )
        raise bad_request("Upgrade request required")
    argv = request.query.getall("command", [])
    if not argv:
        raise bad_request("you must specify at least one command for the container")
    ctx = backend.exec_context(ns, name, container) if backend.exec_context else None
    ctx = ctx or default_context(backend, pod, container)
    flags = {k: logs.qbool(request.query, k) for k in ("stdin", "stdout", "stderr", "tty")}
    fault = next((f for f in backend.exec_faults if f.pod in (None, name)), None)
    if fault is not None:
        backend.exec_faults.remove(fault)
    return await serve_exec(request, argv, ctx, flags, backend.procs, backend.sockets, fault)


def _read(path: Path | None) -> tuple[str, dt.datetime, int]:
    if path is None or not path.is_file():
        return "", dt.datetime.now(dt.UTC), 0
    data = path.read_bytes()
    return (
        data.decode("utf-8", "replace"),
        dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC),
        len(data),
    )


async def _serve_log(
    request: web.Request, backend: Backend, pod: dict[str, Any], container: str, opts: logs.LogOptions
) -> web.StreamResponse:
    meta = pod["metadata"]
    path = backend.log_path(meta["namespace"], meta["name"], container) if backend.log_path else None
    text, mtime, size = _read(path)
    lines = logs.select_lines(text, opts, mtime, dt.datetime.now(dt.UTC))
    body = "".join(lines).encode()
    if opts.limit_bytes is not None:
        body = body[: opts.limit_bytes]
    if not opts.follow:
        return web.Response(body=body, content_type="text/plain")
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await resp.prepare(request)
    request[STREAMING] = True
    await resp.write(body)
    deadline = asyncio.get_running_loop().time() + backend.follow_limit
    follow_opts = logs.LogOptions(timestamps=opts.timestamps)
    while asyncio.get_running_loop().time() < deadline and not _stopping(backend):
        await asyncio.sleep(_POLL)
        if request.transport is None or request.transport.is_closing():
            break
        if path is None or not path.is_file():
            continue
        if path.stat().st_size < size:  # truncated or rotated: start over, like a new log file
            size = 0
        with path.open("rb") as f:
            f.seek(size)
            new = f.read()
        size += len(new)
        if new:
            now = dt.datetime.now(dt.UTC)
            await resp.write(
                "".join(logs.select_lines(new.decode("utf-8", "replace"), follow_opts, now, now)).encode()
            )
    with contextlib.suppress(ConnectionError):
        await resp.write_eof()
    return resp


def _stopping(backend: Backend) -> bool:
    return backend.stopping is not None and backend.stopping.is_set()


async def watch(
    request: web.Request, rt: ResourceType, version: str, ns: str | None, table: bool = False
) -> web.StreamResponse:
    """A bounded watch: synthetic ADDED for current objects (unless resourceVersion is given), then changes."""
    backend = _backend(request)
    q = request.query
    labels_ok, fields_ok = (
        parse_selector(q.get("labelSelector")),
        parse_field_selector(q.get("fieldSelector")),
    )
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def on_change(kind: str, obj: dict[str, Any]) -> None:
        if obj.get("kind") == rt.kind and (ns is None or obj["metadata"].get("namespace") == ns):
            loop.call_soon_threadsafe(queue.put_nowait, (kind, obj))

    unsubscribe = backend.store.subscribe(on_change)
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        request[STREAMING] = True
        if q.get("resourceVersion", "") in ("", "0"):
            for obj in backend.store.list(rt, ns):
                queue.put_nowait(("ADDED", obj))
        try:
            timeout = min(float(q.get("timeoutSeconds", backend.follow_limit)), backend.follow_limit)
        except ValueError:
            timeout = backend.follow_limit
        deadline = loop.time() + timeout
        sent_columns = False
        while loop.time() < deadline and not _stopping(backend):
            try:
                kind, obj = await asyncio.wait_for(queue.get(), min(1.0, max(0.01, deadline - loop.time())))
            except TimeoutError:
                continue
            if not (labels_ok(obj["metadata"].get("labels") or {}) and fields_ok(object_fields(obj))):
                continue
            obj["apiVersion"] = rt.api_version(version)
            if table:  # kubectl get -w: each event carries a one-row Table; columns only in the first
                obj = render_table(rt.plural, [obj], obj["metadata"].get("resourceVersion", ""))
                if sent_columns:
                    obj["columnDefinitions"] = []
                sent_columns = True
            await resp.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await resp.write_eof()
        return resp
    finally:
        unsubscribe()
