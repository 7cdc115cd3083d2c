"""The long-running agent: config (with reload) + discovery + shard filter -> scheduler -> store,
metrics and the HTTP API. The check and policy functions are injected (the pipeline builds them),
so this module runs without a cluster in tests.

It must not know how a probe is done; it only decides which paths run, when, and where results go.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from prometheus_client.registry import Collector

from agent.config import AgentConfig, PathConfig, expand_discovery
from agent.errors import ConfigError, InputError
from agent.kube.cluster import ServiceInfo
from agent.results import CheckResult
from agent.serve import sharding
from agent.serve.access import exposure_problem
from agent.serve.api import Api, ApiContext
from agent.serve.api_server import ApiServer
from agent.serve.lag import LagStats
from agent.serve.metrics import StoreCollector, make_registry
from agent.serve.reload import ConfigWatcher
from agent.serve.scheduler import CheckFn, PolicyFn, ProbeScheduler, safe_check
from agent.serve.store import ResultStore
from agent.signals import SignalLatch

log = logging.getLogger(__name__)


def select_paths(
    config: AgentConfig, services: list[ServiceInfo] | None, shard: tuple[int, int]
) -> tuple[list[PathConfig], list[str]]:
    """Configured + discovered paths (explicit ones win a name clash), capped at max_paths, this shard only.

    Returns (paths, problems) where problems are human-readable notes (e.g. paths dropped by the cap).
    """
    problems: list[str] = []
    paths = {p.name: p for p in config.paths}
    if services is not None:
        for p in expand_discovery(config.discovery, services, config.defaults):
            paths.setdefault(p.name, p)
    ordered = list(paths.values())
    if len(ordered) > config.limits.max_paths:
        problems.append(
            f"{len(ordered)} paths exceed limits.max_paths {config.limits.max_paths}; extra dropped"
        )
        ordered = ordered[: config.limits.max_paths]
    index, count = shard
    return sharding.select(ordered, index, count, lambda p: p.name), problems


def parse_listen(value: str, flag: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT`, `[::1]:PORT`) -> (host, port); InputError naming `flag` otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or any(c.isspace() for c in host):
        raise InputError(f"{flag}: {value!r} must be HOST:PORT, e.g. 127.0.0.1:9090")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ":9090" means all interfaces, as in api.listen


class Agent:
    def __init__(
        self,
        config_path: str | Path,
        check: CheckFn,
        policy_check: PolicyFn,
        ready: Callable[[], tuple[bool, str]] = lambda: (True, "ok"),
        list_services: Callable[[], list[ServiceInfo]] | None = None,
        shard: tuple[int | None, int | None] = (None, None),
        reload_interval: float = 5.0,
        discovery_interval: float = 60.0,
        history: int = 20,
        check_now: CheckFn | None = None,
        store: ResultStore | None = None,
    ) -> None:
        """`check_now` runs what someone waits on (POST /api/v1/probe, ad hoc or a configured path;
        `run_path`); the schedule runs `check`. Default: `check` for both."""
        self.store = store if store is not None else ResultStore(history=history)
        self.lag = LagStats()  # how late scheduled probes start (meshprober_schedule_lag_seconds)
        self.extra_collectors: list[Collector] = [self.lag]  # + e.g. watch-cache health (agent.wiring)
        self.watcher = ConfigWatcher(config_path, self.apply_config, self._config_rejected, reload_interval)
        self._check = check
        self._check_now = check_now or check
        self._policy_check = policy_check
        self._ready = ready
        self._list_services = list_services
        self._cli_shard = shard
        self._discovery_interval = min(max(discovery_interval, 1.0), 3600.0)
        self._services: list[ServiceInfo] | None = None
        self._shard = (0, 1)
        self._scheduler: ProbeScheduler | None = None
        self._server: ApiServer | None = None
        self._metrics_server: ApiServer | None = None
        self._stop = threading.Event()
        self._discovery_thread: threading.Thread | None = None
        self._apply_lock = threading.Lock()
        self._startup: AgentConfig | None = None  # for settings that only apply at start

    @property
    def scheduler(self) -> ProbeScheduler:
        if self._scheduler is None:
            raise RuntimeError("agent not started")
        return self._scheduler

    @property
    def shard(self) -> tuple[int, int]:
        return self._shard

    def start(
        self,
        listen: str | None = None,
        serve: bool = True,
        schedule: bool = True,
        before_serving: Callable[[], None] | None = None,
    ) -> None:
        """Load the config (ConfigError if bad), then start scheduling, watching and (optionally) the API.

        Everything that can fail on bad input (config, shard, token, --listen) is checked before any
        thread starts, so a usage error leaves nothing running. `before_serving` runs once the paths
        are loaded and before the API answers (the demo's policy priming: its first scrape must show
        it; `meshprober run` primes after, so its health endpoints answer during an API outage).
        """
        config = self.watcher.load_initial()
        index, count = self._cli_shard
        self._shard = sharding.resolve_shard(
            index, count, config.shard.index, config.shard.count, socket.gethostname()
        )
        self._scheduler = ProbeScheduler(
            self._check,
            self._policy_check,
            self.store,
            config.limits.max_concurrent_probes,
            on_lag=self.lag.record,
        )
        servers = self.make_servers(config, listen) if serve else []
        self._refresh_services()
        self.apply_config(config)
        try:
            if before_serving is not None:
                before_serving()
            for i, server in enumerate(servers):
                server.start()
                if i == 0:
                    self._server = server
                else:
                    self._metrics_server = server
            if schedule:
                self._scheduler.start()
            self.watcher.start()
            if self._list_services is not None and config.discovery:
                self._discovery_thread = threading.Thread(
                    target=self._discovery_loop, name="discovery", daemon=True
                )
                self._discovery_thread.start()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str | None:
        return self._server.url if self._server else None

    @property
    def metrics_url(self) -> str | None:
        """Where /metrics and health are served: their own listener when api.metrics_listen is set."""
        server = self._metrics_server or self._server
        return server.url if server else None

    def make_server(self, config: AgentConfig, listen: str | None = None) -> ApiServer:
        """The API server for `config` (not started). `listen` (HOST:PORT) overrides api.listen."""
        return self.make_servers(config, listen)[0]

    def make_servers(self, config: AgentConfig, listen: str | None = None) -> list[ApiServer]:
        """The API listener, then (with api.metrics_listen) the metrics/health listener; not started.
        `listen` (HOST:PORT) overrides api.listen. ConfigError when the API would be open off loopback
        without a token (unless api.insecure), or ad-hoc probes without one."""
        api_cfg = config.api
        host, port = parse_listen(listen, "--listen") if listen is not None else api_cfg.host_port
        token = api_cfg.read_token()
        problem = exposure_problem(host, token is not None, api_cfg.insecure, api_cfg.allow_adhoc)
        if problem is not None:
            raise ConfigError(problem if listen is None else f"{problem} (--listen {listen})")
        ctx = ApiContext(
            store=self.store,
            registry=make_registry(
                StoreCollector(
                    self.store,
                    self.scheduler.paths,
                    lambda: self._shard,
                    lambda: self.watcher.status().last_error is None,
                ),
                *self.extra_collectors,
            ),
            paths=self.scheduler.paths,
            run_path=self.run_path,
            run_adhoc=lambda p: safe_check(self._check_now, p, self.store.record_error),
            settings=api_cfg,
            token=token,
            ready=self.ready,
            config_status=self.watcher.status,
            evidence_max_bytes=config.evidence.max_bytes,
            adhoc_defaults=(config.defaults.interval, config.defaults.timeout),
        )
        api = Api(ctx)
        metrics = api_cfg.metrics_host_port
        if metrics is None:
            return [ApiServer(api, host, port)]
        return [ApiServer(api, host, port, role="api"), ApiServer(api, *metrics, role="metrics")]

    def ready(self) -> tuple[bool, str]:
        status = self.watcher.status()
        if not status.loaded:
            return False, "no configuration loaded"
        ok, detail = self._ready()
        if status.last_error:
            detail = f"{detail}; config reload rejected (running config kept): {status.last_error}"
        return ok, detail

    def apply_config(self, config: AgentConfig) -> None:
        """(Re)build the schedule from a good config; unchanged paths keep their jobs and results."""
        with self._apply_lock:
            services = self._services if config.discovery else None
            paths, problems = select_paths(config, services, self._shard)
            for problem in problems:
                log.warning("%s", problem)
                self.store.record_error("config")
            self.scheduler.apply_paths(paths)
            if self._startup is None:
                self._startup = config
            else:
                self._warn_static_changes(config)

    def _warn_static_changes(self, config: AgentConfig) -> None:
        # The listener, token, rate limit, pool size and shard are fixed at start: say so, not silently ignore.
        start = self._startup
        assert start is not None
        for section in ("api", "evidence", "shard"):
            if getattr(config, section) != getattr(start, section):
                log.warning("config: %s changed; it takes effect after a restart", section)
        if config.limits.max_concurrent_probes != start.limits.max_concurrent_probes:
            log.warning("config: limits.max_concurrent_probes changed; it takes effect after a restart")

    def _config_rejected(self, message: str) -> None:
        self.store.record_error("config")

    def _refresh_services(self) -> bool:
        """Re-list services for discovery; True when they changed. Failures keep the last known list."""
        if self._list_services is None:
            return False
        try:
            services = self._list_services()
        except Exception as exc:  # discovery trouble must not stop the agent
            log.warning("service discovery failed: %s", type(exc).__name__)
            self.store.record_error("discovery")
            return False
        changed = services != self._services
        self._services = services
        return changed

    def refresh_discovery(self) -> bool:
        """Re-run discovery now; when services came or went, re-apply the running config. True if changed."""
        if not self._refresh_services():
            return False
        self.apply_config(self.watcher.config)
        return True

    def _discovery_loop(self) -> None:
        while not self._stop.wait(self._discovery_interval):
            self.refresh_discovery()

    def run_path(self, name: str) -> CheckResult:
        """A configured path now, for someone waiting on it (API, demo --once): through check_now."""
        return self.scheduler.run_now(name, self._check_now)

    def run_until_signalled(self, stop: threading.Event | None = None) -> None:
        """Block until SIGINT/SIGTERM (or `stop` is set), then stop everything. For `meshprober run/demo`."""
        with SignalLatch() as latch:
            try:
                latch.wait(stop)
            finally:
                self.stop()

    def stop(self) -> None:
        self._stop.set()
        self.watcher.stop()
        for server in (self._server, self._metrics_server):
            if server is not None:
                server.stop()
        self._server = self._metrics_server = None
        if self._scheduler is not None:
            self._scheduler.shutdown()
        if self._discovery_thread is not None:
            self._discovery_thread.join(timeout=5)
