"""Pod subresources (log, exec): the long-lived responses (watch streams are in `watch`).

Checks run in the real server's order: authorization, pod lookup, container validation, then the
request's own options. Every stream is bounded (follow/watch time limit, server stop, client gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from meshlab.apiserver import logs
from meshlab.apiserver.backend import BACKEND, Backend, authorize
from meshlab.apiserver.execws import STREAMING, ContainerContext, serve_exec
from meshlab.apiserver.resources import ResourceType
from meshlab.apiserver.status import ApiError, bad_request, not_found

# A followed log sees new lines this soon. The kubelet waits for writes with fsnotify and flushes each
# one to the stream (kubernetes pkg/kubelet/kuberuntime/logs/logs.go: waitLogs, flushwriter), so a
# real follow is near-immediate; a 20 ms poll (one stat per poll, for a bounded stream) is close.
_POLL = 0.02


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
    status = pod.get("status") or {}
    # Native sidecars report in initContainerStatuses. A restarting container still has the logs of its
    # last run (lastState.terminated), which the kubelet serves, so only a never-started one is refused.
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting")
        if (
            cs.get("name") == container
            and waiting is not None
            and not (cs.get("lastState") or {}).get("terminated")
        ):
            raise bad_request(
                f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: '
                f"{waiting.get('reason', 'ContainerCreating')}"
            )


def _check_previous(pod: dict[str, Any], container: str) -> None:
    """`previous=true` needs a terminated earlier instance; the kubelet's 400 otherwise."""
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == container and (cs.get("lastState") or {}).get("terminated"):
            return
    raise bad_request(
        f'previous terminated container "{container}" in pod "{pod["metadata"]["name"]}" not found'
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
        if opts.previous:
            _check_previous(pod, container)
        else:
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
    if path is not None and opts.previous:
        path = logs.previous_path(path)
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
