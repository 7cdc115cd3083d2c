"""Request accounting: how many requests of each verb the emulator answered, and the bytes it sent.

Benchmarks and tests read `Backend.accounting` to show what a client costs the API server (e.g. no
LIST in a watch cache's steady state). Verbs as kube-apiserver's audit log and
`apiserver_request_total` name them: list, watch, get, create, update, patch, delete, plus
`exec` and `log` for those subresources and `discovery` for everything else. Bytes are response
bodies; streams that last (watch) count their own bytes as they send them (`add_bytes`), so a
long watch shows up while it runs; exec websocket frames are not counted.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class Accounting:
    """Counters read from any thread; written by the server's loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()

    def add(self, verb: str, nbytes: int) -> None:
        with self._lock:
            self.requests[verb] += 1
            self.bytes_sent[verb] += nbytes

    def add_bytes(self, verb: str, nbytes: int) -> None:
        with self._lock:
            self.bytes_sent[verb] += nbytes

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        with self._lock:
            return dict(self.requests), dict(self.bytes_sent)


ACCOUNTING: web.AppKey[Accounting] = web.AppKey("accounting", Accounting)


def verb_of(request: web.Request) -> str:
    path = request.path.rstrip("/")
    if path.endswith("/exec") or path.endswith("/attach"):
        return "exec"
    if path.endswith("/log"):
        return "log"
    if request.method in _METHOD_VERBS:
        return _METHOD_VERBS[request.method]
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis") or len(parts) < (3 if parts[0] == "api" else 4):
        return "discovery"
    if request.query.get("watch", "") not in ("", "0", "false", "False"):
        return "watch"
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest and rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    elif rest and rest[0] == "namespaces":
        return "get" if len(rest) == 2 else "list"
    return "list" if len(rest) == 1 else "get"


@web.middleware
async def accounting_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    body = response.body if isinstance(response, web.Response) else None
    nbytes = len(body) if isinstance(body, (bytes, bytearray)) else 0
    request.app[ACCOUNTING].add(verb_of(request), nbytes)
    return response
