"""The agent's HTTP API (aiohttp application; `api_server.ApiServer` runs it in its own thread).

Routes: GET /metrics, /healthz, /readyz, /api/v1/paths, /api/v1/paths/NAME/evidence, /probe?path=NAME,
POST /api/v1/probe, and the status pages (`pages.Pages`: /, /paths/NAME, the bundle's files and
.tar.gz under /api/v1/paths/NAME/, /static/*). Probe-triggering routes are rate-limited (429 +
Retry-After). When a token is configured, API-class routes (API_CLASS_PREFIXES) need
`Authorization: Bearer TOKEN` (constant-time compare); /metrics, /healthz, /readyz, / and /static
stay open, as scrapers and browsers expect.
Checks run in a small thread pool with a bounded wait, never on the event loop. The token is never
logged or echoed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from agent.config import ApiConfig, PathConfig
from agent.errors import InputError
from agent.results import CheckResult, wait_budget
from agent.serve.adhoc import adhoc_path
from agent.serve.bundle_reader import read_bundle
from agent.serve.metrics import CONTENT_TYPE, single_probe_exposition
from agent.serve.pages import Pages
from agent.serve.ratelimit import TokenBucket
from agent.serve.reload import ConfigStatus
from agent.serve.scheduler import PathBusy
from agent.serve.store import ResultStore

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READY_TIMEOUT_S = 10.0
# Routes that carry probe data (results, evidence, bundles) or trigger probes: the auth check guards these.
API_CLASS_PREFIXES = ("/api/", "/paths/")
API_CLASS_PATHS = ("/probe",)


def is_api_class(path: str) -> bool:
    return path.startswith(API_CLASS_PREFIXES) or path in API_CLASS_PATHS


@dataclass
class ApiContext:
    """Everything the API needs, as plain objects and callables (so tests can fake any of it)."""

    store: ResultStore
    registry: CollectorRegistry
    paths: Callable[[], dict[str, PathConfig]]
    run_path: Callable[[str], CheckResult]  # raises KeyError (unknown) or PathBusy
    run_adhoc: Callable[[PathConfig], CheckResult]
    settings: ApiConfig = field(default_factory=ApiConfig)
    token: str | None = None
    ready: Callable[[], tuple[bool, str]] = lambda: (True, "ok")
    config_status: Callable[[], ConfigStatus | None] = lambda: None
    evidence_max_bytes: int = 1_000_000
    adhoc_defaults: tuple[float, float] = (30.0, 10.0)  # (interval, timeout) for ad-hoc paths


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


class Api:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._bucket = TokenBucket(ctx.settings.rate_limit.requests, ctx.settings.rate_limit.window)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="api-probe")

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024, middlewares=[self._auth])
        Pages(self.ctx).add_routes(app.router)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/api/v1/paths", self.list_paths)
        app.router.add_get("/api/v1/paths/{name}/evidence", self.evidence)
        app.router.add_post("/api/v1/probe", self.probe_api)
        app.router.add_get("/probe", self.probe_exposition)
        app.on_shutdown.append(self._close_pool)
        return app

    async def _close_pool(self, _app: web.Application) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        protected = is_api_class(request.path)
        if protected and self.ctx.token is not None:
            header = request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            ok = scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode("utf-8"), self.ctx.token.encode("utf-8")
            )
            if not ok:
                return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
        return await handler(request)

    def _limited(self) -> web.Response | None:
        allowed, retry_after = self._bucket.take()
        if allowed:
            return None
        return _error(429, "rate limit exceeded", **{"Retry-After": str(retry_after)})

    async def _run(self, fn: Callable[[], CheckResult], path: PathConfig) -> CheckResult:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._pool, fn), timeout=wait_budget(path))

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.ctx.registry), headers={"Content-Type": CONTENT_TYPE})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        status = self.ctx.config_status()
        try:
            # ready() may ping the API server: keep it off the event loop, and bounded.
            loop = asyncio.get_running_loop()
            ok, detail = await asyncio.wait_for(loop.run_in_executor(None, self.ctx.ready), READY_TIMEOUT_S)
        except TimeoutError:
            ok, detail = False, f"readiness check did not answer within {READY_TIMEOUT_S:g}s"
        config_ok = status is None or status.loaded
        body: dict[str, Any] = {"ready": ok and config_ok, "detail": detail}
        if status is not None:
            body["config"] = {
                "loaded": status.loaded,
                "path": status.path,
                "last_reload_error": status.last_error,
            }
        return web.json_response(body, status=200 if body["ready"] else 503)

    async def list_paths(self, request: web.Request) -> web.Response:
        paths = self.ctx.paths()
        out = []
        for snap in self.ctx.store.snapshot():
            if snap.latest is not None:
                item = snap.latest.to_json()
            else:
                cfg = paths.get(snap.name)
                item = {"path": snap.name, "pending": True, "verdict": None}
                if cfg is not None:
                    item["target"] = cfg.to.target_url
                    item["source"] = {"namespace": cfg.source.namespace, "workload": cfg.source.label}
            item["policy"] = _policy_json(snap.policy)
            out.append(item)
        return web.json_response(out)

    async def evidence(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.ctx.paths():
            return _error(404, f"unknown path {name!r}")
        bundle = next((r.bundle_dir for r in reversed(self.ctx.store.history(name)) if r.bundle_dir), None)
        if bundle is None:
            return _error(404, f"no evidence bundle for path {name!r} yet")
        files = await asyncio.get_running_loop().run_in_executor(
            self._pool, read_bundle, bundle, self.ctx.evidence_max_bytes
        )
        return web.json_response(files)

    async def probe_api(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "request body: must be JSON")
        if not isinstance(body, dict):
            return _error(400, "request body: must be a JSON object")
        if "path" in body:
            return await self._probe_named(body["path"], as_metrics=False)
        if not self.ctx.settings.allow_adhoc:
            return _error(403, 'ad-hoc probes are disabled (api.allow_adhoc: false); give {"path": NAME}')
        try:
            path = adhoc_path(body, *self.ctx.adhoc_defaults)
        except InputError as exc:
            return _error(400, str(exc))
        if (limited := self._limited()) is not None:
            return limited
        try:
            result = await self._run(lambda: self.ctx.run_adhoc(path), path)
        except TimeoutError:
            return _error(504, "the probe did not finish in time")
        if result.error_stage == "sidecar_bypass":  # a bad request (the source), not a probe outcome
            return _error(400, f"from: {result.diagnosis.summary}")
        return web.json_response(result.to_json())

    async def probe_exposition(self, request: web.Request) -> web.Response:
        name = request.query.get("path")
        if not name:
            return _error(400, "query parameter 'path' is required: /probe?path=NAME")
        return await self._probe_named(name, as_metrics=True)

    async def _probe_named(self, name: object, as_metrics: bool) -> web.Response:
        path = self.ctx.paths().get(name) if isinstance(name, str) else None
        if path is None or not isinstance(name, str):
            return _error(404, f"path: no configured path named {name!r}")
        if (limited := self._limited()) is not None:
            return limited
        try:
            result = await self._run(lambda: self.ctx.run_path(name), path)
        except KeyError:
            return _error(404, f"path: no configured path named {name!r}")
        except PathBusy as exc:
            return _error(409, str(exc))
        except TimeoutError:
            return _error(504, "the probe did not finish in time")
        if as_metrics:
            body = single_probe_exposition(result, path, self.ctx.store.policy(name))
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
        return web.json_response(result.to_json())


def _policy_json(view: Any) -> dict[str, Any] | None:
    if view is None:
        return None
    return {
        "host": view.host, "port": view.port, "status": view.status, "client_mode": view.client_mode,
        "server_mode": view.server_mode, "destination_rule": view.destination_rule,
        "peer_authentication": view.peer_authentication, "symptom": view.symptom,
    }  # fmt: skip
