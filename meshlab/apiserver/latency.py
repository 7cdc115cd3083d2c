"""Injected latency: every API call waits `api_latency` seconds, and an exec `exec_latency` more.

A loopback emulator answers in milliseconds; a real control plane costs tens to hundreds of
milliseconds per call (client -> API server, admission, etcd) and most per exec (API server ->
kubelet -> container runtime, see https://kubernetes.io/docs/concepts/architecture/ "Control plane
to node communication"). Benchmarks set these to model a remote cluster; both are 0 by default.
The wait is before the request is handled, so a watch pays it once at its start, like a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from meshlab.apiserver.backend import BACKEND

MAX_LATENCY_S = 10.0


def check_latency(name: str, seconds: float) -> float:
    """The value, or ValueError naming the knob when it is negative or above MAX_LATENCY_S."""
    if not 0.0 <= seconds <= MAX_LATENCY_S:
        raise ValueError(f"{name} must be between 0 and {MAX_LATENCY_S:g} seconds, got {seconds:g}")
    return seconds


def _is_exec(path: str) -> bool:
    return path.endswith("/exec") or path.endswith("/attach")


@web.middleware
async def latency_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    backend = request.app[BACKEND]
    delay = backend.api_latency + (backend.exec_latency if _is_exec(request.path) else 0.0)
    if delay > 0:
        await asyncio.sleep(delay)
    return await handler(request)
