"""The agent's watch caches of one cluster: Pods, Services, EndpointSlices and the Istio policy kinds.

Cluster-wide when the agent is cluster-wide; with a namespace scope, one cache per scoped
namespace (the policy kinds also in the mesh root namespace), so namespaced `list`/`watch` RBAC
suffices. The policy kinds are cached at the version the server prefers among those we read
(agent.kube.policy_kinds); a kind the server does not serve stays empty. `generation` changes
whenever any cached object does, so the policy view rebuilds its engine only after a change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from agent.kube import memtrim
from agent.kube.policy_kinds import POLICY_KINDS, PolicyKind, pick_version
from agent.kube.raw_api import RawApi
from agent.kube.slim import Slimmer, slim_endpoint_slice, slim_pod, slim_policy, slim_service
from agent.kube.watch_cache import CacheStats, WatchCache

# Optional Istio kinds the policy view also reads (agent.kube.control_plane_reads): cached like the
# policy kinds, kept apart so `policy_objects()` stays DRs/PAs. (group, plural, Kind, versions)
OPTIONAL_KINDS: tuple[PolicyKind, ...] = (
    PolicyKind("telemetry.istio.io", "telemetries", "Telemetry", ("v1", "v1beta1", "v1alpha1")),
    PolicyKind("networking.istio.io", "virtualservices", "VirtualService", ("v1", "v1beta1", "v1alpha3")),
)

CORE: dict[str, tuple[str, Slimmer]] = {
    "pods": ("/api/v1", slim_pod),
    "services": ("/api/v1", slim_service),
    "endpointslices": ("/apis/discovery.k8s.io/v1", slim_endpoint_slice),
}


SYNC_STEP_S = 10.0  # the longest a cache's first sync holds back the next one's start
# A cluster-wide read waits for its cache's first sync at most this long after start(): the direct
# LIST it would make instead is the whole cluster in one response (10,000 pods: a 29 MB body and
# ~130 MB of decoded objects, which set the agent's memory high-water mark; bench/cluster_scale.py).
STARTUP_WAIT_S = 30.0
TRIM_WAIT_S = 600.0  # how long the starter waits for every first sync, to release their garbage then


def collection_path(prefix: str, plural: str, namespace: str | None) -> str:
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"


class ClusterCaches:
    """Every cache the agent reads; see the module docstring."""

    def __init__(
        self,
        raw: RawApi,
        served: dict[str, list[str]] | None,
        scope: Sequence[str] | None,
        root_namespace: str,
        *,
        watch_timeout: int | None = None,
        page_size: int | None = None,
    ) -> None:
        self.scope = tuple(scope) if scope is not None else None
        self._stopping = threading.Event()
        self._starter: threading.Thread | None = None
        self._started_at: float | None = None  # time.monotonic() of start()
        self._gen_lock = threading.Lock()
        self._generation = 0
        kw: dict[str, Any] = {"on_change": self._bump}
        if watch_timeout is not None:
            kw["watch_timeout"] = watch_timeout
        if page_size is not None:
            kw["page_size"] = page_size
        self._by_resource: dict[str, list[WatchCache]] = {}

        self._namespace_of: dict[int, str | None] = {}

        def add(resource: str, prefix: str, slim: Slimmer, namespaces: Iterable[str | None]) -> None:
            self._by_resource[resource] = []
            for ns in namespaces:
                cache = WatchCache(
                    raw, collection_path(prefix, resource, ns), slim, name=f"{resource}@{ns or '*'}", **kw
                )
                self._namespace_of[id(cache)] = ns
                self._by_resource[resource].append(cache)

        core_ns: list[str | None] = list(self.scope) if self.scope is not None else [None]
        for plural, (prefix, slim) in CORE.items():
            add(plural, prefix, slim, core_ns)
        policy_ns: list[str | None] = (
            [None] if self.scope is None else list(dict.fromkeys([*self.scope, root_namespace]))
        )
        self.policy_kinds: list[tuple[PolicyKind, str]] = []
        for kind in POLICY_KINDS:
            if self.scope is not None and not kind.namespaced:
                continue
            version = pick_version(kind, served) if served is not None else kind.versions[0]
            if version is None:
                continue  # not served: nothing to cache
            self.policy_kinds.append((kind, version))
            slim = slim_policy(f"{kind.group}/{version}", kind.kind)
            add(kind.plural, f"/apis/{kind.group}/{version}", slim, policy_ns if kind.namespaced else [None])
        self.optional_kinds: list[tuple[PolicyKind, str]] = []
        for kind in OPTIONAL_KINDS:
            version = pick_version(kind, served) if served is not None else kind.versions[0]
            if version is None:
                continue
            self.optional_kinds.append((kind, version))
            add(
                kind.plural,
                f"/apis/{kind.group}/{version}",
                slim_policy(f"{kind.group}/{version}", kind.kind),
                policy_ns,
            )

    def _bump(self) -> None:
        with self._gen_lock:
            self._generation += 1

    @property
    def generation(self) -> int:
        with self._gen_lock:
            return self._generation

    def all(self) -> list[WatchCache]:
        return [c for caches in self._by_resource.values() for c in caches]

    def start(self) -> None:
        """Start the caches one after another, each once the previous one has synced (or after
        SYNC_STEP_S): their first lists then do not decode pages all at once, which set the agent's
        memory high-water mark at 10,000 pods (bench/cluster_scale.py)."""

        def staggered() -> None:
            for c in self.all():
                if self._stopping.is_set():
                    return
                c.start()
                self._wait(c.wait_synced, SYNC_STEP_S)
            if self._wait(self.wait_synced, TRIM_WAIT_S):
                memtrim.release(force=True)  # every first list's pages are garbage now: hand the heap back

        self._started_at = time.monotonic()
        self._starter = threading.Thread(target=staggered, name="watch-cache start", daemon=True)
        self._starter.start()

    def _wait(self, synced: Callable[[float], bool], timeout: float) -> bool:
        """`synced(step)` (a wait_synced) in short steps until True, `timeout` or stop(): stop() must
        not wait out a sync that may never come."""
        deadline = time.monotonic() + timeout
        while not synced(0.1):
            if self._stopping.is_set() or time.monotonic() > deadline:
                return False
        return True

    def stop(self) -> None:
        self._stopping.set()
        if self._starter is not None:
            self._starter.join(SYNC_STEP_S + 5)
        for c in self.all():
            c._stop.set()  # signal all first, so they wind down together
        for c in self.all():
            c.stop()

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(c.wait_synced(max(0.0, deadline - time.monotonic())) for c in self.all())

    @property
    def synced(self) -> bool:
        return all(c.synced for c in self.all())

    def synced_for(self, resource: str) -> bool:
        """True when every cache of `resource` (a plural) has synced; the others may still be listing."""
        caches = self._by_resource.get(resource, [])
        return bool(caches) and all(c.synced for c in caches)

    def await_synced(self, resource: str) -> bool:
        """`synced_for(resource)`, after waiting for the first sync while the caches are starting
        (until STARTUP_WAIT_S after start()); never waits later, so an unreachable server does not
        hold every read."""
        caches = self._by_resource.get(resource)
        if not caches:
            return False
        started = self._started_at
        deadline = time.monotonic() if started is None else started + STARTUP_WAIT_S
        return all(c.wait_synced(max(0.0, deadline - time.monotonic())) for c in caches)

    def covers(self, namespace: str | None) -> bool:
        """True when the caches hold every object of `namespace` (None: of every namespace)."""
        if self.scope is not None and (namespace is None or namespace not in self.scope):
            return False
        # a namespace RBAC does not let us list: direct reads, which skip and count it as before
        return not any(
            c.forbidden
            for plural in CORE
            for c in self._by_resource.get(plural, [])
            if self._namespace_of[id(c)] in (None, namespace)
        )

    @property
    def policy_ok(self) -> bool:
        """False when RBAC forbids a policy cache: the policy view lists directly (and counts it)."""
        return not any(c.forbidden for kind, _ in self.policy_kinds for c in self._by_resource[kind.plural])

    def items(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Cached objects of a resource (plural), in one namespace or all cached ones. Read-only."""
        out: list[dict[str, Any]] = []
        for c in self._by_resource.get(resource, []):
            out.extend(c.items(namespace))
        return out

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        for c in self._by_resource.get(resource, []):
            found = c.get(namespace, name)
            if found is not None:
                return found
        return None

    def policy_objects(self) -> list[dict[str, Any]]:
        return [obj for kind, _ in self.policy_kinds for obj in self.items(kind.plural)]

    def has(self, resource: str) -> bool:
        """True when `resource` (a plural) is cached (its kind is served)."""
        return resource in self._by_resource

    def health(self) -> dict[str, CacheStats]:
        """Stats summed per resource (several namespaces' caches add up)."""
        out: dict[str, CacheStats] = {}
        for resource, caches in self._by_resource.items():
            total = CacheStats(synced=all(c.synced for c in caches))
            total.last_sync = min((c.stats.last_sync for c in caches), default=0.0)
            for c in caches:
                s = c.stats
                total.lists += s.lists
                total.relists += s.relists
                total.watch_restarts += s.watch_restarts
                total.events += s.events
                total.bookmarks += s.bookmarks
                total.errors += s.errors
                total.objects += s.objects
            out[resource] = total
        return out
