"""Running the API's aiohttp application on its own event loop in a daemon thread, so a CLI command
or a test can start it, learn the bound port (port 0 works) and stop it without leaving anything behind.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from agent.errors import InputError
from agent.serve.api import Api


class ApiServer:
    """Runs an Api on its own event loop in a daemon thread, so a CLI or test can start and stop it."""

    def __init__(self, api: Api, host: str = "127.0.0.1", port: int = 0, role: str = "all") -> None:
        self._api = api
        self._role = role
        self._host = host
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._serve, name="meshprober-api", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise InputError(
                f"--listen: the API did not start on {self._host}:{self._port} within {timeout:g}s"
            )
        if self._error is not None:
            raise InputError(f"--listen: cannot listen on {self._host}:{self._port}: {self._error}")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._setup())
        except OSError as exc:
            self._error = exc
            self._loop.close()
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        if self._runner is not None:
            self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _setup(self) -> None:
        self._runner = web.AppRunner(self._api.app(self._role, self._host), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here (port 0 -> real port)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._port

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None
