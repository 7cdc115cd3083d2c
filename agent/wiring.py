"""Wiring: a Cluster + the checks + the agent (scheduler, store, metrics, API) for `run` and `demo`.

The one place that joins agent.check and agent.serve; everything here is assembly. The check
context is built complete (settings, error sink) before the agent that runs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import ValidationError

from agent.bundle.keep import EvidenceSettings
from agent.check.context import CheckContext
from agent.check.run import policy_check, run_check
from agent.check.via import ViaState
from agent.config import AgentConfig, PathConfig, load_config
from agent.config.schema import ScopeConfig, scope_gaps
from agent.errors import ClusterError, ConfigError
from agent.istio.control_plane import MeshOverrides
from agent.kube.cluster import Cluster, ControlPlaneCluster, ScopedCluster
from agent.results import CheckResult, wait_budget
from agent.serve.agent import Agent
from agent.serve.scheduler import PathBusy
from agent.serve.store import ResultStore

log = logging.getLogger(__name__)
BUSY_POLL_S = 0.2
CACHE_SYNC_WAIT_S = 10.0  # a bounded wait for the watch caches at start; reads fall back meanwhile


def cluster_ready(cluster: Cluster) -> tuple[bool, str]:
    try:
        cluster.ping()
    except ClusterError as exc:
        return False, f"API server unreachable: {exc}"
    return True, "ok"


def build_agent(
    config_path: Path,
    cluster: Cluster,
    *,
    shard: tuple[int | None, int | None] = (None, None),
    evidence_dir: Path | None = None,
    reload_interval: float = 5.0,
    namespaces: Sequence[str] | None = None,
) -> tuple[Agent, CheckContext]:
    """An Agent whose checks run the real pipeline against `cluster` (not started).

    `namespaces` (e.g. `run --namespace`) overrides the config's `scope.namespaces`."""
    config = load_config(config_path)  # fail fast, before anything runs; the agent re-reads it
    scope = apply_scope(config, namespaces, cluster, source=str(config_path))
    apply_mesh(config, cluster)
    store = ResultStore()
    ctx = CheckContext.for_cluster(
        cluster,
        evidence=EvidenceSettings(
            dir=evidence_dir or config.evidence.dir,
            keep_per_path=config.evidence.keep_per_path,
            max_bytes=config.evidence.max_bytes,
        ),
        errors=store.record_error,
        # The probe-container settings are read at start; a changed image takes effect after a restart.
        via=ViaState(settings=config.probe_container, on_created=store.record_probe_container),
    )
    if scope is not None and isinstance(cluster, ScopedCluster):
        cluster.set_error_counter(store.record_error)  # namespaces skipped in scoped lists, by stage
    agent = Agent(
        config_path,
        check=lambda path: run_check(path, ctx),
        check_now=lambda path: run_check(path, ctx, eager_evidence=True),
        policy_check=lambda path: policy_check(path, ctx),
        ready=lambda: cluster_ready(cluster),
        list_services=cluster.list_services,
        shard=shard,
        reload_interval=reload_interval,
        store=store,
    )
    enable_caches = getattr(cluster, "enable_caches", None)  # LiveCluster: list+watch caches
    if enable_caches is not None:
        from agent.serve.cache_metrics import CacheCollector

        if not enable_caches(wait=CACHE_SYNC_WAIT_S):
            log.warning("watch caches not synced yet; reading directly until they are")
        agent.extra_collectors.append(CacheCollector(cluster.cache_health))  # type: ignore[attr-defined]
    if isinstance(cluster, ControlPlaneCluster):  # LiveCluster: the metric and status page show its view
        cluster.on_control_plane = store.set_control_plane
    return agent, ctx


def apply_mesh(config: AgentConfig, cluster: Cluster) -> None:
    """The config's `mesh:` block overrides control-plane discovery (LiveCluster; fakes have none).
    Read at start, like `scope:`."""
    if not isinstance(cluster, ControlPlaneCluster):
        return
    m = config.mesh
    cluster.mesh_overrides = MeshOverrides(m.istio_namespace, m.revision, m.cluster_domain, m.root_namespace)


def apply_scope(
    config: AgentConfig, override: Sequence[str] | None, cluster: Cluster, *, source: str = "config"
) -> tuple[str, ...] | None:
    """Scope the cluster's lists to namespaces (the override, else `scope.namespaces`); None: cluster-wide.

    The scope is read at start; a changed `scope:` takes effect after a restart."""
    configured = config.scope.namespaces if config.scope else None
    scope = _checked_override(override) if override else configured
    if scope is None:
        return None
    if override:  # the config was only checked against its own scope
        for loc, ns in scope_gaps(config, scope)[:1]:
            raise ConfigError(f"{source}: {loc}: namespace {ns!r} is outside --namespace {', '.join(scope)}")
    if isinstance(cluster, ScopedCluster):  # LiveCluster; fakes list everything
        cluster.set_scope(scope)
    log.info("listing in namespaces %s only (plus the mesh root namespace for policy)", ", ".join(scope))
    return scope


def _checked_override(override: Sequence[str]) -> tuple[str, ...]:
    """`--namespace` values validated like scope.namespaces (duplicates dropped)."""
    try:
        return ScopeConfig(namespaces=tuple(dict.fromkeys(override))).namespaces
    except ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"--namespace: {reason}") from None


def prime_policy(agent: Agent, ctx: CheckContext) -> None:
    """Policy-only checks of every scheduled path now, so meshprober_tls_conflict shows at start,
    before the first probe of a path has run. Failures are counted (stage "policy"), never raised."""
    for name, path in sorted(agent.scheduler.paths().items()):
        try:
            agent.store.set_policy(name, policy_check(path, ctx))
        except Exception as exc:  # the API server may be down at start; the probes retry later
            log.warning("policy check of path %s failed: %s", name, exc)
            agent.store.record_error("policy")
            return  # one listing failed: the others would fail the same way


def _run_or_wait(agent: Agent, path: PathConfig) -> CheckResult:
    """Run the path now; if a scheduled run holds it, wait (bounded) for that run's result instead."""
    started = time.time()
    deadline = time.monotonic() + wait_budget(path)
    while True:
        try:
            return agent.run_path(path.name)
        except PathBusy:
            latest = agent.store.latest(path.name)
            if latest is not None and latest.finished_at >= started:  # the busy run, finished
                return latest
            if time.monotonic() > deadline:
                raise
            time.sleep(BUSY_POLL_S)


def run_round(agent: Agent, max_workers: int = 8) -> list[CheckResult]:
    """Run every scheduled path once now (in parallel) and return the results in path order."""
    paths: dict[str, PathConfig] = agent.scheduler.paths()
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(paths) or 1))) as pool:
        results = list(pool.map(lambda name: _run_or_wait(agent, paths[name]), sorted(paths)))
    return results
