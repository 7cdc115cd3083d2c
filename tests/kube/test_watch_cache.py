"""The agent's list+watch caches (agent.kube.caches) on the real emulator with the official client:
paginated sync, live changes, an emulator restart, a 410 (compaction), a bookmark-only stream, a
deletion while disconnected; each ends consistent with the server. Steady state makes no LIST."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.errors import Forbidden
from agent.kube.live import LiveCluster
from meshlab.apiserver import Emulator
from tests.support.istio_builders import dr, pa, svc

pytestmark = pytest.mark.timeout(90)

NS = ("ns-a", "ns-b")


def _pod(ns: str, name: str, app: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app": app},
            "annotations": {"sidecar.istio.io/status": "x" * 2000},  # dropped by the slimmer
        },
        "spec": {"containers": [{"name": app, "env": [{"name": "BIG", "value": "y" * 1000}]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _objects() -> list[dict[str, Any]]:
    out = [_pod(ns, f"p{i}") for ns in NS for i in range(7)]
    out += [svc(ns, "web", 80) for ns in NS]
    out += [
        dr("ns-a", "web", "web.ns-a.svc.cluster.local", tls="DISABLE"),
        pa("istio-system", "default", "STRICT"),
    ]
    istiod = _pod("istio-system", "istiod-5d4f8c7b9-x1", app="istiod")  # control-plane discovery finds it
    istiod["metadata"]["labels"]["istio.io/rev"] = "default"
    out.append(istiod)
    return out


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(_objects(), state_dir=tmp_path / "emu", bookmark_interval=0.3) as e:
        yield e


def _cluster(emu: Emulator, tmp_path: Path, scope: tuple[str, ...] | None = None) -> LiveCluster:
    live = LiveCluster.from_kubeconfig(str(emu.write_kubeconfig(tmp_path / "kubeconfig")))
    if scope is not None:
        live.set_scope(scope)
    assert live.enable_caches(wait=20, page_size=3)  # 3 per page: the sync list is paginated
    return live


@pytest.fixture
def live(emu: Emulator, tmp_path: Path) -> Iterator[LiveCluster]:
    cluster = _cluster(emu, tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


def wait_until(what: str, cond: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def server_view(emu: Emulator, plural: str) -> set[tuple[str, str, str]]:
    return {
        (o["metadata"]["namespace"], o["metadata"]["name"], o["metadata"]["resourceVersion"])
        for o in emu.store.list(plural)
    }


def cache_view(live: LiveCluster, plural: str) -> set[tuple[str, str, str]]:
    cache = live._reads.cache
    assert cache is not None
    return {
        (o["metadata"]["namespace"], o["metadata"]["name"], o["metadata"]["resourceVersion"])
        for o in cache.items(plural)
    }


def consistent(emu: Emulator, live: LiveCluster) -> bool:
    return all(
        cache_view(live, p) == server_view(emu, p)
        for p in ("pods", "services", "destinationrules", "peerauthentications")
    )


def test_sync_is_paginated_slim_and_serves_reads(emu: Emulator, live: LiveCluster) -> None:
    assert consistent(emu, live)
    lists, _ = emu.backend.accounting.snapshot()
    pods = live.list_pods("ns-a")
    assert [p.name for p in pods] == [f"p{i}" for i in range(7)]
    assert live.workload_pods("ns-a", "app=web")[0].ready
    assert {s.name for s in live.list_services()} == {"web"}
    kinds = sorted(o["kind"] for o in live.list_policy_objects() if o["kind"] not in ("Pod", "Service"))
    assert kinds == ["DestinationRule", "PeerAuthentication"]
    cache = live._reads.cache
    assert cache is not None
    raw = cache.items("pods", "ns-a")[0]
    assert "annotations" not in raw["metadata"] and "env" not in raw["spec"]["containers"][0]
    after, _ = emu.backend.accounting.snapshot()
    assert after.get("list", 0) == lists.get("list", 0)  # the reads above made no LIST
    assert live.cache_health()["pods"].lists == 1 and lists["list"] >= 5  # 14 pods / 3 per page


def test_live_changes_are_followed(emu: Emulator, live: LiveCluster) -> None:
    gen = live.policy_generation()
    emu.store.apply(_pod("ns-b", "new"))
    emu.store.delete("pods", "ns-a", "p0")
    emu.store.apply(dr("ns-b", "x", "web.ns-b.svc.cluster.local", tls="ISTIO_MUTUAL"))
    wait_until("the cache to follow", lambda: consistent(emu, live))
    assert live.policy_generation() != gen
    assert live.cache_health()["pods"].relists == 0


def watching(live: LiveCluster) -> None:
    """Wait until the pods watch is established (it has delivered a bookmark)."""
    wait_until("the pods watch", lambda: live.cache_health()["pods"].bookmarks >= 1, 10)


def test_emulator_restart_with_deletion_while_disconnected(emu: Emulator, live: LiveCluster) -> None:
    watching(live)
    port = emu.port
    emu.stop()
    emu.store.delete("pods", "ns-a", "p1")  # while the cache cannot see it
    emu.store.apply(_pod("ns-a", "born-offline"))
    time.sleep(1.0)
    emu.start(port=port)
    wait_until("consistency after the restart", lambda: consistent(emu, live), 40)
    health = live.cache_health()["pods"]
    assert health.watch_restarts >= 1 and health.relists == 0  # resumed from its version, no relist
    assert "p1" not in {p.name for p in live.list_pods("ns-a")}


def test_410_after_compaction_relists(emu: Emulator, live: LiveCluster) -> None:
    watching(live)
    port = emu.port
    emu.stop()
    emu.store.delete("pods", "ns-b", "p2")
    emu.store.apply(_pod("ns-b", "after-compaction"))
    emu.compact()  # the cache's version is gone: its watch gets 410
    emu.start(port=port)
    wait_until("a relist", lambda: live.cache_health()["pods"].relists >= 1, 40)
    wait_until("consistency after the relist", lambda: consistent(emu, live))


def test_bookmark_only_stream_moves_the_version_and_avoids_a_relist(emu: Emulator, tmp_path: Path) -> None:
    scoped = _cluster(emu, tmp_path, scope=("ns-a",))
    try:
        cache = scoped._reads.cache
        assert cache is not None
        for i in range(5):  # changes elsewhere: ns-a's watch sees only bookmarks
            emu.store.apply(_pod("ns-b", f"noise-{i}"))
        newest = int(emu.store.resource_version)
        pods_cache = cache._by_resource["pods"][0]
        wait_until(
            "a bookmark past the noise", lambda: int(pods_cache.stats.resource_version or 0) >= newest, 10
        )
        assert pods_cache.stats.bookmarks >= 1 and pods_cache.stats.events == 0
        emu.store.history.compact(upto=newest)  # anything before the bookmark is gone
        port = emu.port
        emu.stop()
        emu.start(port=port)
        wait_until("the watch to resume", lambda: pods_cache.stats.watch_restarts >= 1, 20)
        emu.store.apply(_pod("ns-a", "after-bookmark"))
        wait_until("the new pod", lambda: pods_cache.get("ns-a", "after-bookmark") is not None)
        assert pods_cache.stats.relists == 0  # resumed from the bookmark's version
    finally:
        scoped.close()


def test_steady_state_makes_no_list(emu: Emulator, live: LiveCluster) -> None:
    before, _ = emu.backend.accounting.snapshot()
    for i in range(20):
        emu.store.apply(_pod("ns-a", f"churn-{i}"))
        live.list_pods("ns-a")
        live.list_policy_objects()
    wait_until("the churn", lambda: consistent(emu, live))
    after, _ = emu.backend.accounting.snapshot()
    assert after.get("list", 0) == before.get("list", 0), (before, after)


def test_forbidden_namespace_is_kept_empty_and_counted(tmp_path: Path) -> None:
    """A scoped namespace outside the RBAC grant: its caches stay empty and reads of it go direct."""
    user = "system:serviceaccount:meshprober:meshprober"
    rbac = {user: [{"verbs": ["get", "list", "watch"], "namespaces": ["ns-a", "istio-system"]}]}
    with Emulator(_objects(), state_dir=tmp_path / "emu", rbac=rbac) as emu:
        live = LiveCluster.from_kubeconfig(str(emu.write_kubeconfig(tmp_path / "kc", user=user)))
        live.set_scope(("ns-a", "ns-b"))
        try:
            assert live.enable_caches(wait=20)
            assert [p.name for p in live.list_pods("ns-a")] == [f"p{i}" for i in range(7)]
            with pytest.raises(Forbidden):  # read directly, as without caches: skipped and counted
                live.list_pods("ns-b")
            assert live.cache_health()["pods"].errors >= 1
        finally:
            live.close()


def test_a_cluster_wide_read_at_start_waits_for_its_cache(emu: Emulator, tmp_path: Path) -> None:
    """Right after enable_caches, an all-namespace read is answered by the pods cache (it waited for
    the first sync) instead of one unpaginated LIST of every pod; a namespaced read does not wait."""
    live = LiveCluster.from_kubeconfig(str(emu.write_kubeconfig(tmp_path / "kubeconfig")))
    try:
        live.enable_caches(wait=0, page_size=3)
        cache = live._reads.cache
        assert cache is not None
        assert len(live.list_pods()) == 15
        assert cache.synced_for("pods")
        assert cache.items("pods") and not cache.synced_for("no-such-resource")
    finally:
        live.close()


def test_the_start_up_wait_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the API server gone the caches never sync: a read waits until STARTUP_WAIT_S after the
    caches started, then never again (each later read falls back at once)."""
    from agent.kube import caches

    monkeypatch.setattr(caches, "STARTUP_WAIT_S", 0.5)
    with Emulator(_objects(), state_dir=tmp_path / "emu") as gone:
        kubeconfig = gone.write_kubeconfig(tmp_path / "kubeconfig")
    live = LiveCluster.from_kubeconfig(str(kubeconfig))
    cache = caches.ClusterCaches(live._core, None, None, "istio-system")
    try:
        assert not cache.await_synced("pods")  # not started: nothing to wait for
        cache.start()
        started = time.monotonic()
        assert not cache.await_synced("pods")
        assert 0.3 < time.monotonic() - started < 3
        started = time.monotonic()
        assert not cache.await_synced("services")
        assert time.monotonic() - started < 0.1
    finally:
        cache.stop()
        live.close()
