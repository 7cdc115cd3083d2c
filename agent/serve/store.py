"""Thread-safe result store: latest CheckResult per path, bounded history, cumulative counters.

Metrics are computed from this at scrape time, so the store also keeps what a scrape needs that
the latest result alone cannot give: probe counts per verdict, a duration histogram per path, and
agent-side error counts per stage. No I/O here.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.evidence import PolicyView
from agent.istio.control_plane import ControlPlane
from agent.model import Verdict
from agent.results import CheckResult

DURATION_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Stages exported at 0 from the start; others (e.g. the pipeline's evidence stages) appear when first seen.
KNOWN_ERROR_STAGES: tuple[str, ...] = (
    "config", "discovery", "check", "policy", "pods", "exec", "exec_timeout", "api", "parse",
    "overrun", "missed", "sidecar_bypass", "no_curl", "ephemeral", "ephemeral_forbidden",
)  # fmt: skip


@dataclass
class PathStats:
    """Cumulative per-path numbers (reset only when the path leaves the config)."""

    verdict_counts: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(Verdict, 0))
    bucket_counts: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    duration_sum: float = 0.0
    duration_count: int = 0


@dataclass(frozen=True)
class PathSnapshot:
    """A consistent copy of one path's state for a scrape or a page render."""

    name: str
    latest: CheckResult | None
    policy: PolicyView | None
    verdict_counts: dict[Verdict, int]
    buckets: tuple[tuple[float, int], ...]  # cumulative (le, count), without +Inf
    duration_sum: float
    duration_count: int


class ResultStore:
    def __init__(self, history: int = 20) -> None:
        self._lock = threading.Lock()
        self._control_plane: ControlPlane | None = None
        self._history_len = max(1, history)
        self._latest: dict[str, CheckResult] = {}
        self._history: dict[str, deque[CheckResult]] = {}
        self._policy: dict[str, PolicyView | None] = {}
        self._stats: dict[str, PathStats] = {}
        self._errors: dict[str, int] = dict.fromkeys(KNOWN_ERROR_STAGES, 0)
        self._probe_containers: dict[str, int] = {}

    def set_paths(self, names: Iterable[str]) -> None:
        """Declare the configured paths: new ones start at zero, gone ones are dropped, the rest kept."""
        wanted = set(names)
        with self._lock:
            for name in list(self._stats):
                if name not in wanted:
                    for table in (self._latest, self._history, self._policy, self._stats):
                        table.pop(name, None)
            for name in wanted:
                self._stats.setdefault(name, PathStats())

    def record(self, result: CheckResult) -> None:
        with self._lock:
            stats = self._stats.get(result.path)
            if stats is None:
                return  # a path removed by a reload while its probe was running
            self._latest[result.path] = result
            self._history.setdefault(result.path, deque(maxlen=self._history_len)).append(result)
            stats.verdict_counts[result.diagnosis.verdict] += 1
            for i, le in enumerate(DURATION_BUCKETS):
                if result.duration_s <= le:
                    stats.bucket_counts[i] += 1
            stats.duration_sum += result.duration_s
            stats.duration_count += 1
            # result.error_stage is not counted here: errors are counted once, where they happen
            # (record_error, called by the pipeline and the scheduler), never twice.
            if result.policy is not None:
                self._policy[result.path] = result.policy

    def set_policy(self, name: str, view: PolicyView | None) -> None:
        with self._lock:
            if name in self._stats:
                self._policy[name] = view

    def set_control_plane(self, plane: ControlPlane | None) -> None:
        """The control plane the policy view was last read from (its gaps: a partial view)."""
        with self._lock:
            self._control_plane = plane

    def control_plane(self) -> ControlPlane | None:
        with self._lock:
            return self._control_plane

    def record_error(self, stage: str) -> None:
        with self._lock:
            self._errors[stage] = self._errors.get(stage, 0) + 1

    def record_probe_container(self, namespace: str) -> None:
        """An ephemeral probe container was added to a pod in `namespace` (they are never removed)."""
        with self._lock:
            self._probe_containers[namespace] = self._probe_containers.get(namespace, 0) + 1

    def probe_containers(self) -> dict[str, int]:
        with self._lock:
            return dict(self._probe_containers)

    def errors(self) -> dict[str, int]:
        with self._lock:
            return dict(self._errors)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._stats)

    def latest(self, name: str) -> CheckResult | None:
        with self._lock:
            return self._latest.get(name)

    def policy(self, name: str) -> PolicyView | None:
        with self._lock:
            return self._policy.get(name)

    def history(self, name: str) -> list[CheckResult]:
        with self._lock:
            return list(self._history.get(name, ()))

    def snapshot(self) -> list[PathSnapshot]:
        with self._lock:
            return [
                PathSnapshot(
                    name=name,
                    latest=self._latest.get(name),
                    policy=self._policy.get(name),
                    verdict_counts=dict(st.verdict_counts),
                    buckets=tuple(zip(DURATION_BUCKETS, st.bucket_counts, strict=True)),
                    duration_sum=st.duration_sum,
                    duration_count=st.duration_count,
                )
                for name, st in sorted(self._stats.items())
            ]
