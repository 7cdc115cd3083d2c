"""Scheduling lag: how late each scheduled probe started against the time it was due.

The scheduler (agent.serve.scheduler) reports one value per scheduled run: its start minus
APScheduler's scheduled (jittered) run time. A saturated worker pool shows here first, before
runs are skipped as `missed`. Exposed as the histogram `meshprober_schedule_lag_seconds`;
`quantile()` serves benchmarks (bench/cluster_scale.py reads p99 from the histogram instead).
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0)
RECENT = 10_000  # recent values kept for quantiles (bounded memory)


class LagStats(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * (len(BUCKETS) + 1)
        self._sum = 0.0
        self._recent: deque[float] = deque(maxlen=RECENT)

    def record(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        with self._lock:
            self._counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sum += seconds
            self._recent.append(seconds)

    def quantile(self, q: float) -> float | None:
        with self._lock:
            values = sorted(self._recent)
        if not values:
            return None
        return values[min(len(values) - 1, int(q * len(values)))]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, buckets = 0, []
        for bound, n in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
            cumulative += n
            buckets.append((bound, float(cumulative)))
        h = HistogramMetricFamily(
            "meshprober_schedule_lag_seconds", "How late scheduled probes started against their due time"
        )
        h.add_metric([], buckets, total)
        yield h
