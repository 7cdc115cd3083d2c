"""Shared request plumbing: the Backend every handler reads, JSON responses, authn and authz.

No routing and no handlers here; no threads.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from meshlab.apiserver.accounting import Accounting
from meshlab.apiserver.auth import Authenticator
from meshlab.apiserver.execws import ContainerContext, ExecFault
from meshlab.apiserver.resources import ResourceType
from meshlab.apiserver.status import forbidden, unauthorized
from meshlab.apiserver.store import Store


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
    # Watch bookmarks every minute, as kube-apiserver's cacher (defaultBookmarkFrequency); tests shorten it.
    bookmark_interval: float = 60.0
    # Longest watch: kube-apiserver's --min-request-timeout default (1800 s); a client's shorter
    # timeoutSeconds wins. Tests shorten it to end `kubectl get -w`.
    watch_limit: float = 1800.0
    # Injected latency (seconds) to model a remote control plane: every API call, and each exec on top
    # (API server -> kubelet -> runtime). 0 in the lab by default. See meshlab.apiserver.latency.
    api_latency: float = 0.0
    exec_latency: float = 0.0
    accounting: Accounting = field(default_factory=Accounting)  # requests and bytes by verb
    # (namespace, pod, container spec): start a new ephemeral container and mark it running
    # (meshlab.apiserver.ephemeral.mark_running); None: it runs after ephemeral_start_delay seconds.
    ephemeral_start: Callable[[str, str, dict[str, Any]], None] | None = None
    ephemeral_start_delay: float = 0.0


BACKEND: web.AppKey[Backend] = web.AppKey("backend", Backend)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body, separators=(",", ":")).encode(), content_type="application/json"
    )


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
