"""A day of schedule on a fake clock: memory, open fds/sockets, threads and evidence on disk stay flat.

The real scheduler job function (`ProbeScheduler.run_now`, what each APScheduler job calls), the real
pipeline (`run_check`: rotation, second probe, parallel cross-check, policy TTL cache, diagnosis,
evidence bundles) and the real store and metrics run 86400/interval times per path against a
ReplayCluster (answers recorded from the seed lab). The pipeline's clock is a fake that advances
as the day goes by, so the policy cache expires as it would live. Memory is traced (tracemalloc)
after a warm-up (every bounded history full, every object of the steady state re-allocated under
tracing). Caches and interpreter tables still settle for a while (growth that slows down); a leak
grows at the same rate all day. So the test compares the live blocks gained in the second half of
the traced day with the first half, and bounds the bytes loosely (a table may resize once).

Sizes: MESHPROBER_DAY_PATHS paths (default 40; 1 in 20 broken, the rest healthy) probed every
MESHPROBER_DAY_INTERVAL_S seconds (default 900) -> 3 840 probes, ~30 s on 2 busy cores. The same test with
`MESHPROBER_DAY_PATHS=500 MESHPROBER_DAY_INTERVAL_S=60` is a heavier soak (720 000 probes).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import tracemalloc
from pathlib import Path

import pytest
from prometheus_client import generate_latest

import agent.check.run
from agent.bundle.keep import EvidenceSettings
from agent.check.context import CheckContext
from agent.check.run import policy_check, run_check
from agent.config import parse_config
from agent.model import Verdict
from agent.serve.metrics import StoreCollector, make_registry
from agent.serve.scheduler import ProbeScheduler
from agent.serve.store import ResultStore
from tests.support.replay_cluster import ReplayCluster
from tests.support.roundtrip import assert_diagnose_agrees, kept_bundles

DAY_S = 86400
PATHS = int(os.environ.get("MESHPROBER_DAY_PATHS", "40"))
INTERVAL_S = float(os.environ.get("MESHPROBER_DAY_INTERVAL_S", "900"))
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
SETTLING_BLOCKS = 300  # second-half growth allowed on top of half the first half's (seen: 278 then 210)
BYTE_GROWTH_LIMIT = 4 * 1024 * 1024  # room for one resize of an interpreter table (interned strings)


class FakeClock:
    """Stands in for the `time` module inside agent.check.run: wall and monotonic time advance together."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _blocks() -> tuple[int, int]:
    """(live traced blocks, bytes) after a full collection."""
    gc.collect()
    stats = tracemalloc.take_snapshot().statistics("filename")
    return sum(st.count for st in stats), sum(st.size for st in stats)


def open_fds() -> tuple[int, int]:
    """(open fds, of which sockets) of this process."""
    fds = sockets = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        fds += 1
        sockets += target.startswith("socket:")
    return fds, sockets


@pytest.mark.timeout(300)
def test_a_day_of_schedule_does_not_grow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # pytest keeps every captured log record: the per-probe events (a WARNING per failing probe)
    # would grow the test's memory, not the agent's. Records below ERROR are not even created.
    caplog.set_level(logging.ERROR, logger="meshprober.events")
    clock = FakeClock()
    monkeypatch.setattr(agent.check.run, "time", clock)
    sources = ["traffic-generator"] * 19 + ["load-test"]  # 1 in 20 paths hits the seed's break
    config = parse_config(
        {
            "limits": {"min_interval": "1s", "max_paths": max(PATHS, 1)},
            "paths": [
                {
                    "name": f"day-{i:04d}",
                    "from": {"namespace": sources[i % 20], "workload": "traffic-generator"},
                    "to": {"url": URL},
                    "interval": f"{INTERVAL_S:g}s",
                }
                for i in range(PATHS)
            ],
        }
    )
    evidence = tmp_path / "evidence"
    store = ResultStore(history=20)
    ctx = CheckContext.for_cluster(
        ReplayCluster(), evidence=EvidenceSettings(dir=evidence, keep_per_path=3), errors=store.record_error
    )
    scheduler = ProbeScheduler(lambda p: run_check(p, ctx), lambda p: policy_check(p, ctx), store)
    scheduler.apply_paths(config.paths)  # jobs are added, the APScheduler thread is never started
    registry = make_registry(StoreCollector(store, scheduler.paths, lambda: (0, 1), lambda: True))
    names = sorted(scheduler.paths())
    rounds = int(DAY_S / INTERVAL_S)
    step = INTERVAL_S / len(names)  # runs spread evenly over each interval, as the jitter spreads them
    warmup = max(rounds // 10, 21)  # history (20 per path) full, caches warm

    def run_rounds(count: int) -> None:
        for _ in range(count):
            for name in names:
                scheduler.run_now(name)
                clock.advance(step)
            generate_latest(registry)  # a scrape per round, as Prometheus does

    run_rounds(warmup)  # untraced: histories fill, caches warm
    tracemalloc.start()
    try:
        run_rounds(warmup)  # traced: the steady state's objects are re-allocated under tracing
        gc.collect()
        fds0, sockets0 = open_fds()
        threads0 = set(threading.enumerate())
        bundles0 = sum(1 for d in evidence.rglob("*") if d.is_dir())
        before = _blocks()
        remaining = rounds - 2 * warmup
        run_rounds(remaining // 2)
        middle = _blocks()
        run_rounds(remaining - remaining // 2)
        after = _blocks()
    finally:
        tracemalloc.stop()
    first, second = middle[0] - before[0], after[0] - middle[0]
    grown = after[1] - before[1]
    fds1, sockets1 = open_fds()

    assert clock.now - 1_790_000_000.0 == pytest.approx(rounds * INTERVAL_S)
    snap = {s.name: s for s in store.snapshot()}
    assert all(s.duration_count == rounds for s in snap.values())
    assert snap["day-0019"].latest is not None
    assert snap["day-0019"].latest.diagnosis.verdict is Verdict.MTLS_PLAINTEXT_TO_STRICT
    assert snap["day-0000"].latest is not None and snap["day-0000"].latest.diagnosis.verdict is Verdict.OK
    assert all(len(store.history(n)) == 20 for n in names)
    assert second <= first / 2 + SETTLING_BLOCKS, f"live blocks grew {first} then {second}: a leak"
    assert grown < BYTE_GROWTH_LIMIT, f"traced memory grew {grown} bytes over the day"
    assert (fds1, sockets1) == (fds0, sockets0)
    assert not set(threading.enumerate()) - threads0  # the cross-check's pools are all joined
    bundles1 = sum(1 for d in evidence.rglob("*") if d.is_dir())
    assert bundles1 == bundles0  # keep_per_path prunes: the disk does not grow either
    kept = list(kept_bundles(evidence))
    assert kept
    for bundle in kept[:5]:  # diagnosed offline, each gives the agent's own diagnosis.json
        assert_diagnose_agrees(bundle)
    assert sum(store.errors().values()) == 0
