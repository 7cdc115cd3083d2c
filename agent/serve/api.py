"""The agent's HTTP API (aiohttp application; `api_server.ApiServer` runs it in its own thread).

Routes: GET /metrics, /healthz, /readyz, /api/v1/paths, /api/v1/paths/NAME/evidence, /probe?path=NAME,
POST /api/v1/probe, and the status pages (`pages.Pages`: /, /paths/NAME, the bundle's files and
.tar.gz under /api/v1/paths/NAME/, /static/*). With `api.metrics_listen` the first three are served on
their own listener (role "metrics") and the rest on the API listener (role "api"); otherwise one
listener serves all. Auth, the Host check, security headers and JSON body rules live in http_guard;
ad-hoc limits in adhoc_policy. Probe-triggering routes are rate-limited per client with a global cap
(429 + Retry-After). Probes and evidence reads run in separate small thread pools with a bounded wait,
never on the event loop, so hung probes cannot block evidence reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from agent.config import ApiConfig, PathConfig
from agent.errors import InputError
from agent.results import CheckResult, wait_budget
from agent.serve.access import HostCheck
from agent.serve.adhoc import adhoc_path
from agent.serve.adhoc_policy import configured_sources, source_problem, target_problem
from agent.serve.bundle_reader import read_bundle
from agent.serve.http_guard import BadBody, guard, json_body
from agent.serve.http_guard import error as _error
from agent.serve.metrics import CONTENT_TYPE, single_probe_exposition
from agent.serve.pages import Pages
from agent.serve.ratelimit import ClientRateLimit
from agent.serve.reload import ConfigStatus
from agent.serve.scheduler import PathBusy
from agent.serve.store import ResultStore

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 10.0


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


ROLES = ("all", "api", "metrics")


class Api:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        limits = ctx.settings.rate_limit
        self._limiter = ClientRateLimit(
            limits.requests, limits.window, limits.global_requests, limits.max_clients
        )
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="api-probe")
        # Evidence reads get their own threads: four hung probes must not block them.
        self._read_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="api-read")

    def app(self, role: str = "all", listen_host: str = "127.0.0.1") -> web.Application:
        """The application for one listener: "all" routes, only the "api" + status page, or only "metrics"
        and health. `listen_host` is what the Host header is checked against (plus api.allowed_hosts)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        host_check = HostCheck(listen_host, frozenset(h.lower() for h in self.ctx.settings.allowed_hosts))
        # The metrics listener serves only open routes: anything else there is a plain 404.
        middleware = guard(host_check, (lambda: None) if role == "metrics" else (lambda: self.ctx.token))
        app = web.Application(client_max_size=64 * 1024, middlewares=[middleware])
        if role in ("all", "metrics"):
            app.router.add_get("/metrics", self.metrics)
            app.router.add_get("/healthz", self.healthz)
            app.router.add_get("/readyz", self.readyz)
        if role in ("all", "api"):
            Pages(self.ctx).add_routes(app.router)
            app.router.add_get("/api/v1/paths", self.list_paths)
            app.router.add_get("/api/v1/paths/{name}/evidence", self.evidence)
            app.router.add_post("/api/v1/probe", self.probe_api)
            app.router.add_get("/probe", self.probe_exposition)
            app.on_shutdown.append(self._close_pool)
        return app

    async def _close_pool(self, _app: web.Application) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._read_pool.shutdown(wait=False, cancel_futures=True)

    def _limited(self, request: web.Request) -> web.Response | None:
        allowed, retry_after = self._limiter.take(request.remote or "unknown")
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
            self._read_pool, read_bundle, bundle, self.ctx.evidence_max_bytes
        )
        return web.json_response(files)

    async def probe_api(self, request: web.Request) -> web.Response:
        try:
            body = await json_body(request)
        except BadBody as exc:
            return _error(exc.status, str(exc))
        if not isinstance(body, dict):
            return _error(400, "request body: must be a JSON object")
        if "path" in body:
            return await self._probe_named(body["path"], as_metrics=False, request=request)
        if not self.ctx.settings.allow_adhoc:
            return _error(403, 'ad-hoc probes are disabled (api.allow_adhoc: false); give {"path": NAME}')
        if self.ctx.token is None:  # the config insists too; this holds for any way the API is built
            return _error(403, "ad-hoc probes need a bearer token (api.token_file or api.token_env)")
        try:
            path = adhoc_path(body, *self.ctx.adhoc_defaults)
        except InputError as exc:
            return _error(400, str(exc))
        if (problem := target_problem(path.to.target_url, self.ctx.settings)) is not None:
            return _error(400, problem)
        sources = configured_sources(self.ctx.paths().values())
        if (problem := source_problem(path, self.ctx.settings, sources)) is not None:
            return _error(403, problem)
        if (limited := self._limited(request)) is not None:
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
        return await self._probe_named(name, as_metrics=True, request=request)

    async def _probe_named(self, name: object, as_metrics: bool, request: web.Request) -> web.Response:
        path = self.ctx.paths().get(name) if isinstance(name, str) else None
        if path is None or not isinstance(name, str):
            return _error(404, f"path: no configured path named {name!r}")
        if (limited := self._limited(request)) is not None:
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
