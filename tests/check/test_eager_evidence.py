"""Eager evidence (`run_check(..., eager_evidence=True)`, for `meshprober probe` and the API's on-demand probe): the config dump and the
policy view are fetched while the first probe runs, the confirming probe is the same curl run's
second transfer, and the diagnosis is the same as when they are fetched after it fails. Runs the real pipeline on ReplayCluster (answers recorded from the seed lab)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from agent.check.context import CheckContext
from agent.check.run import run_check
from agent.kube.cluster import ExecResult
from tests.support.replay_cluster import ReplayCluster, seed_path

CURL_S = 0.2  # each probe takes this long, so "started while the probe ran" is observable


class TimedReplay(ReplayCluster):
    """ReplayCluster that records when each exec and log read starts and ends; curl is slow."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()

    def _note(self, what: str, edge: str) -> None:
        with self._lock:
            self.events.append((what, edge, time.monotonic()))

    def exec(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float
    ) -> ExecResult:
        self._note(argv[0], "start")
        if argv[0] == "curl":
            time.sleep(CURL_S)
        try:
            return super().exec(namespace, pod, container, argv, timeout)
        finally:
            self._note(argv[0], "end")

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        self._note("logs", "start")
        return super().logs(namespace, pod, container, since_seconds, limit_bytes)

    def first(self, what: str, edge: str) -> float | None:
        return next((t for w, e, t in self.events if (w, e) == (what, edge)), None)


@pytest.mark.parametrize(
    ("source_namespace", "healthy"),
    [
        pytest.param("traffic-generator", True, id="healthy-path-no-evidence-read"),
        pytest.param("load-test", False, id="seed-break-same-verdict-dump-overlaps-probe"),
    ],
)
def test_eager_evidence(source_namespace: str, healthy: bool) -> None:
    path = seed_path(source_namespace)
    lazy_cluster, eager_cluster = TimedReplay(), TimedReplay()
    lazy = run_check(path, CheckContext.for_cluster(lazy_cluster))
    eager = run_check(path, CheckContext.for_cluster(eager_cluster), eager_evidence=True)

    assert eager.diagnosis.healthy is healthy
    assert eager.diagnosis.to_json() == lazy.diagnosis.to_json()
    first_curl_end = eager_cluster.first("curl", "end")
    assert first_curl_end is not None
    if healthy:
        assert eager_cluster.first("logs", "start") is None  # abandoned: no access logs read
        assert lazy_cluster.first("pilot-agent", "start") is None
        return
    # Eager: the sidecar's config dump was asked for before the first probe had answered;
    # lazy: only after it failed.
    dump_start = eager_cluster.first("pilot-agent", "start")
    assert dump_start is not None and dump_start < first_curl_end
    lazy_dump, lazy_curl_end = lazy_cluster.first("pilot-agent", "start"), lazy_cluster.first("curl", "end")
    assert lazy_dump is not None and lazy_curl_end is not None and lazy_dump > lazy_curl_end
    assert eager.policy is not None and eager.policy == lazy.policy
    # The confirming probe was the second transfer of the first exec: one curl exec, not two.
    curl_execs = [e for e in eager_cluster.events if e[:2] == ("curl", "start")]
    assert len(curl_execs) == 1 and len([e for e in lazy_cluster.events if e[:2] == ("curl", "start")]) == 2
    assert "a second probe failed the same way (repeatable)" in eager.diagnosis.evidence
