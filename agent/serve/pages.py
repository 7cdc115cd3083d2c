"""The status pages' routes: GET / (overview), /paths/NAME (one path), the latest bundle's files
and its .tar.gz under /api/v1/paths/NAME/, and the pages' own CSS and script under /static/.

Route classes, for the auth check placed in front of them (`http_guard.needs_token`): / , the path
pages, the bundle's files and its download are what a browser opens (the token off loopback); /static
holds no probe data (open).
Handlers only read the store and the bundle directory, off the event loop for file work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from aiohttp import web

from agent.config import PathConfig
from agent.serve.bundle_archive import bundle_file, bundle_files, bundle_targz, latest_bundle
from agent.serve.path_page import path_view, render_path_page
from agent.serve.reload import ConfigStatus
from agent.serve.status_page import render_status_page
from agent.serve.store import ResultStore

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {"meshprober.css": "text/css", "meshprober.js": "text/javascript"}
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
MIN_REFRESH_S = 2  # ?refresh=N (a wall display may want it faster or slower); below this is a reload storm
MAX_REFRESH_S = 3600


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class PageSource(Protocol):
    """What the pages read (api.ApiContext provides it)."""

    @property
    def store(self) -> ResultStore: ...
    @property
    def paths(self) -> Callable[[], dict[str, PathConfig]]: ...
    @property
    def config_status(self) -> Callable[[], ConfigStatus | None]: ...


class Pages:
    def __init__(self, ctx: PageSource, refresh_s: int = 15) -> None:
        self.ctx = ctx
        self.refresh_s = refresh_s

    def _refresh(self, request: web.Request) -> int:
        asked = request.query.get("refresh", "")
        if asked.isdigit():
            return min(MAX_REFRESH_S, max(MIN_REFRESH_S, int(asked)))
        return self.refresh_s

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/", self.index)
        router.add_get("/static/{file}", self.static)
        router.add_get("/paths/{name}", self.path_page)
        router.add_get("/api/v1/paths/{name}/evidence/{file:.+}", self.evidence_file)
        router.add_get("/api/v1/paths/{name}/bundle.tar.gz", self.bundle_download)

    async def index(self, request: web.Request) -> web.Response:
        html = render_status_page(
            self.ctx.store.snapshot(),
            self.ctx.paths(),
            self.ctx.config_status(),
            self._refresh(request),
            control_plane=self.ctx.store.control_plane(),
        )
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["file"]
        if name not in STATIC_TYPES:  # a fixed list: nothing else under the package is served
            return _error(404, f"no static file {name!r}")
        return web.Response(
            body=(STATIC / name).read_bytes(), content_type=STATIC_TYPES[name], charset="utf-8",
            headers={"Cache-Control": "max-age=300", **NOSNIFF},
        )  # fmt: skip

    def _known(self, name: str) -> bool:
        return name in self.ctx.paths()

    async def path_page(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not self._known(name):
            return _error(404, f"unknown path {name!r}")
        history = self.ctx.store.history(name)
        bundle = latest_bundle(history)
        files: list[str] = []
        if bundle is not None:
            rels = await asyncio.get_running_loop().run_in_executor(None, bundle_files, bundle)
            files = [r.as_posix() for r in rels]
        view = path_view(
            name, self.ctx.paths().get(name), history, self.ctx.store.policy(name), files,
            bundle.name if bundle else None,
        )  # fmt: skip
        html = render_path_page(view, self._refresh(request))
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    def _bundle(self, name: str) -> Path | web.Response:
        if not self._known(name):
            return _error(404, f"unknown path {name!r}")
        bundle = latest_bundle(self.ctx.store.history(name))
        return bundle if bundle is not None else _error(404, f"no evidence bundle for path {name!r} yet")

    async def evidence_file(self, request: web.Request) -> web.StreamResponse:
        bundle = self._bundle(request.match_info["name"])
        if isinstance(bundle, web.Response):
            return bundle
        rel = request.match_info["file"]
        file = await asyncio.get_running_loop().run_in_executor(None, bundle_file, bundle, rel)
        if file is None:
            return _error(404, f"no file {rel!r} in the latest evidence bundle")
        # Evidence is text whatever its name; never let a browser sniff it into HTML.
        return web.FileResponse(
            file,
            headers={"Content-Type": "text/plain; charset=utf-8", "Content-Disposition": "inline", **NOSNIFF},
        )

    async def bundle_download(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        bundle = self._bundle(name)
        if isinstance(bundle, web.Response):
            return bundle
        body = await asyncio.get_running_loop().run_in_executor(None, bundle_targz, bundle)
        return web.Response(
            body=body,
            headers={
                "Content-Type": "application/gzip",
                "Content-Disposition": f'attachment; filename="{name}-bundle.tar.gz"',
                **NOSNIFF,
            },
        )
