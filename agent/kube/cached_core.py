"""RawApi with pod lists answered from the watch caches (control-plane discovery's istiod lookup).

`read_control_plane` lists `app=istiod` pods each time the policy view is rebuilt; with a synced pods
cache that covers the namespace, the answer comes from the cache instead of a LIST. The answer has
the shape `Rest` reads (`.data`, `release_conn()`), so the reader does not know the difference.
Every other call goes to the real RawApi.
"""

from __future__ import annotations

import json
from typing import Any

from agent.kube.caches import ClusterCaches
from agent.kube.raw_api import RawApi
from agent.kube.slim import matches_selector


class _Answer:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.data = json.dumps(doc).encode()

    def release_conn(self) -> None:
        """Nothing to release: no connection was used."""


class CachedCore:
    def __init__(self, core: RawApi, cache: ClusterCaches) -> None:
        self._core = core
        self._cache = cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core, name)

    def _pods(self, namespace: str | None, label_selector: str | None) -> _Answer | None:
        if not self._cache.synced_for("pods") or not self._cache.covers(namespace):
            return None
        items = [
            o
            for o in self._cache.items("pods", namespace)
            if matches_selector(o["metadata"].get("labels") or {}, label_selector)
        ]
        return _Answer({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})

    def list_namespaced_pod(self, namespace: str, label_selector: str | None = None, **kw: Any) -> Any:
        cached = self._pods(namespace, label_selector)
        return cached or self._core.list_namespaced_pod(namespace, label_selector, **kw)

    def list_pod_for_all_namespaces(self, label_selector: str | None = None, **kw: Any) -> Any:
        cached = self._pods(None, label_selector)
        return cached or self._core.list_pod_for_all_namespaces(label_selector, **kw)
