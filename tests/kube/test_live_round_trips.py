"""Independent reads cost one round trip, not one each: LiveCluster against the emulator with injected
latency, as a remote control plane answers (issue 16: the one-shot `meshprober probe`).

The same requests are made, and the same objects come back in the same order, as at loopback speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.kube.live import LiveCluster
from meshlab.apiserver import Emulator
from tests.support.istio_builders import dr, mesh, pa, pod, svc

pytestmark = pytest.mark.timeout(60)

LATENCY_S = 0.3
OBJECTS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    for ns in ("bookinfo", "istio-system", "load-test")
] + [
    pod("bookinfo", "reviews-v1-0", app="reviews"),
    pod("load-test", "gen-0", app="gen"),
    svc("bookinfo", "reviews", 9080),
    dr("bookinfo", "reviews", "reviews", tls="DISABLE"),
    pa("istio-system", "default", "STRICT"),
    mesh(rootNamespace="istio-system"),
]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = Emulator(OBJECTS, state_dir=tmp_path_factory.mktemp("round-trips"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def _timed(
    emu: Emulator, kubeconfig: Path, latency: float, read: Callable[[LiveCluster], Any]
) -> tuple[Any, float, int]:
    """(result, seconds, requests made) of one read on a fresh LiveCluster at this latency."""
    with LiveCluster.from_kubeconfig(str(kubeconfig)) as live:
        emu.set_latency(latency, 0.0)
        before = sum(emu.backend.accounting.snapshot()[0].values())
        try:
            start = time.monotonic()
            result = read(live)
            elapsed = time.monotonic() - start
        finally:
            emu.set_latency(0.0, 0.0)
        return result, elapsed, sum(emu.backend.accounting.snapshot()[0].values()) - before


def _ids(objs: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs]


def test_policy_view_costs_its_longest_chain_not_its_sum(emu: Emulator, tmp_path: Path) -> None:
    kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig", user="admin")
    fast, _, fast_requests = _timed(emu, kubeconfig, 0.0, LiveCluster.list_policy_objects)
    slow, elapsed, slow_requests = _timed(emu, kubeconfig, LATENCY_S, LiveCluster.list_policy_objects)
    assert _ids(slow) == _ids(fast) and ("DestinationRule", "bookinfo", "reviews") in _ids(slow)
    # istiod pods, mesh ConfigMap, /apis, DRs, PAs, Telemetry, VirtualServices, Services, Pods
    assert slow_requests == fast_requests >= 9
    # Two chains of two (istiod pods -> its ConfigMap; /apis -> the policy kinds): ~2 round trips.
    assert elapsed < 4 * LATENCY_S, f"{elapsed:.2f}s for {slow_requests} requests"


def test_workload_lookup_asks_for_the_label_fallback_at_once(emu: Emulator, tmp_path: Path) -> None:
    kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig", user="admin")
    pods, elapsed, requests = _timed(
        emu, kubeconfig, LATENCY_S, lambda live: live.workload_pods("load-test", "gen")
    )
    assert [p.name for p in pods] == ["gen-0"]  # no owner: found by its app label
    assert requests == 2 and elapsed < 2 * LATENCY_S, f"{elapsed:.2f}s for {requests} requests"


def test_prefetched_workload_lookup_is_ready_when_asked(emu: Emulator, tmp_path: Path) -> None:
    """`meshprober probe` starts the source lookup before importing the pipeline; the lookup then
    answers from that request, once, and a failure is raised where a direct call would raise it."""
    from agent.errors import NotFound

    kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig", user="admin")
    with LiveCluster.from_kubeconfig(str(kubeconfig)) as live:
        emu.set_latency(LATENCY_S, 0.0)
        try:
            live.prefetch_workload_pods("load-test", "gen")
            live.prefetch_workload_pods("load-test", "ghost")
            time.sleep(3 * LATENCY_S)  # the command imports meanwhile
            start = time.monotonic()
            pods = live.workload_pods("load-test", "gen")
            assert time.monotonic() - start < LATENCY_S / 2
            assert [p.name for p in pods] == ["gen-0"]
            with pytest.raises(NotFound, match="load-test/ghost"):
                live.workload_pods("load-test", "ghost")
            start = time.monotonic()
            live.workload_pods("load-test", "gen")  # used once: this one asks the server again
            assert time.monotonic() - start >= LATENCY_S
        finally:
            emu.set_latency(0.0, 0.0)
