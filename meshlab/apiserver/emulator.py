"""Emulator: runs the API-server app over HTTPS in a background thread with its own event loop.

start() returns once the socket is listening; stop() closes sockets, ends streams and kills exec'd
processes, and is idempotent. A stopped emulator can start again (same store, CA and tokens), which is
how tests make the API server go away and come back. Binds loopback only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from meshlab.apiserver.auth import Authenticator, RbacTable
from meshlab.apiserver.backend import Backend
from meshlab.apiserver.execws import ContainerContext, ExecFault, kill_group
from meshlab.apiserver.latency import check_latency
from meshlab.apiserver.server import make_app
from meshlab.apiserver.store import Store
from meshlab.loopback import is_loopback_ip
from meshlab.tls import ensure_server_tls

_START_TIMEOUT = 15.0


def _check_loopback(host: str) -> None:
    if host == "localhost" or is_loopback_ip(host):
        return
    raise ValueError(f"emulator host must be a loopback address (127.0.0.0/8 or localhost), got {host!r}")


class Emulator:
    def __init__(
        self,
        objects: Iterable[dict[str, Any]] = (),
        *,
        state_dir: Path,
        exec_context: Callable[[str, str, str], ContainerContext | None] | None = None,
        log_path: Callable[[str, str, str], Path | None] | None = None,
        users: Mapping[str, str] | None = None,
        rbac: RbacTable | None = None,
        follow_limit: float = 300.0,
        api_latency: float = 0.0,
        exec_latency: float = 0.0,
        bookmark_interval: float = 60.0,
        ephemeral_start: Callable[[str, str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store()
        self.store.load(objects)
        self.auth = Authenticator(users, rbac)
        self.tls = ensure_server_tls(self.state_dir / "tls")
        self.backend = Backend(
            self.store, self.auth, self.state_dir, exec_context, log_path, follow_limit=follow_limit
        )
        self.set_latency(api_latency, exec_latency)
        self.backend.bookmark_interval = bookmark_interval
        self.backend.ephemeral_start = ephemeral_start  # the lab runs ephemeral containers (see Backend)
        self.host = "127.0.0.1"
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    # -- public helpers --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def ca_path(self) -> Path:
        return self.tls.ca_cert

    def token_for(self, username: str) -> str:
        return self.auth.token_for(username)

    def inject_exec_fault(self, fault: ExecFault) -> None:
        """Make the next exec (of fault.pod, or any) misbehave once; see ExecFault."""
        self.backend.exec_faults.append(fault)

    def set_latency(self, api: float, exec_: float) -> None:
        """Injected seconds per API call and, on top, per exec (see latency); 0 turns it off."""
        self.backend.api_latency = check_latency("API latency", api)
        self.backend.exec_latency = check_latency("exec latency", exec_)

    def compact(self) -> None:
        """Forget the change history, like an etcd compaction: every older watch or continue token
        gets 410 Gone from now on."""
        self.store.history.compact()

    def write_kubeconfig(self, path: Path, user: str = "admin", namespace: str | None = None) -> Path:
        if not self.port:
            raise RuntimeError("start the emulator before writing a kubeconfig (its port is not known yet)")
        ca = base64.b64encode(self.ca_path.read_bytes()).decode()
        ctx: dict[str, Any] = {"cluster": "lab", "user": user}
        if namespace:
            ctx["namespace"] = namespace
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "lab",
            "clusters": [{"name": "lab", "cluster": {"server": self.url, "certificate-authority-data": ca}}],
            "contexts": [{"name": "lab", "context": ctx}],
            "users": [{"name": user, "user": {"token": self.token_for(user)}}],
            "preferences": {},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        path.chmod(0o600)  # holds a bearer token
        return path

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        if self._thread is not None:
            return self
        _check_loopback(host)
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        async def boot() -> None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.tls.server_cert, self.tls.server_key)
            self.backend.stopping = asyncio.Event()
            runner = web.AppRunner(
                make_app(self.backend), handle_signals=False, access_log=None, shutdown_timeout=1.0
            )
            await runner.setup()
            site = web.TCPSite(runner, host, port, ssl_context=ctx)
            try:
                await site.start()
            except BaseException:
                await runner.cleanup()
                raise
            self._runner = runner
            self.host, self.port = host, runner.addresses[0][1]
            self.backend.address = f"{host}:{self.port}"

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(boot())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            # let transports closed during shutdown run their callbacks before the loop goes away
            loop.run_until_complete(asyncio.sleep(0.05))
            loop.close()

        thread = threading.Thread(target=run, name=f"kube-emulator-{port}", daemon=True)
        thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"the API-server emulator did not start within {_START_TIMEOUT:.0f}s")
        if failure:
            thread.join(5)
            raise RuntimeError(f"the API-server emulator could not listen on {host}:{port}: {failure[0]}")
        self._thread, self._loop = thread, loop
        return self

    async def _shutdown(self) -> None:
        if self.backend.stopping is not None:
            self.backend.stopping.set()
        for proc in list(self.backend.procs):
            kill_group(proc)
        for ws in list(self.backend.sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=1001, message=b"server shutting down"), 2)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._thread = self._loop = None

    def __enter__(self) -> Emulator:
        return self.start() if self._thread is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
