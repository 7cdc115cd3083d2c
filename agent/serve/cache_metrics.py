"""Watch-cache health as Prometheus metrics, read at scrape time (see agent.kube.caches).

Per cached resource (`pods`, `services`, `endpointslices`, `destinationrules`, ...):
`meshprober_cache_synced`, `meshprober_cache_last_sync_timestamp_seconds`,
`meshprober_cache_objects`, `meshprober_cache_lists_total`, `meshprober_cache_relists_total`,
`meshprober_cache_watch_restarts_total`, `meshprober_cache_errors_total`. No kubernetes import:
the stats arrive as plain objects with those attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

HealthFn = Callable[[], Mapping[str, Any]]

_GAUGES = (
    ("synced", "meshprober_cache_synced", "1 when the cache has listed and follows its watch"),
    (
        "last_sync",
        "meshprober_cache_last_sync_timestamp_seconds",
        "When the cache was last confirmed current",
    ),
    ("objects", "meshprober_cache_objects", "Objects held by the cache"),
)
_COUNTERS = (
    ("lists", "meshprober_cache_lists", "Full (paginated) lists made by the cache"),
    ("relists", "meshprober_cache_relists", "Lists after the first (410 Gone, errors)"),
    ("watch_restarts", "meshprober_cache_watch_restarts", "Watches that ended before their timeout"),
    ("errors", "meshprober_cache_errors", "Failed list or watch requests (retried with backoff)"),
)


class CacheCollector(Collector):
    def __init__(self, health: HealthFn) -> None:
        self._health = health

    def collect(self) -> Iterator[Metric]:
        stats = self._health()
        for attr, name, doc in _GAUGES:
            g = GaugeMetricFamily(name, doc, labels=["resource"])
            for resource, s in sorted(stats.items()):
                g.add_metric([resource], float(getattr(s, attr)))
            yield g
        for attr, name, doc in _COUNTERS:
            c = CounterMetricFamily(name, doc, labels=["resource"])
            for resource, s in sorted(stats.items()):
                c.add_metric([resource], float(getattr(s, attr)))
            yield c
