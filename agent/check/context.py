"""What every check of every path shares: the cluster, the policy view, evidence settings, the error sink.

Built once, complete, before the agent exists (`CheckContext.for_cluster`); nothing is set on it
afterwards. The one lifecycle step is `close_evidence()`, which tells checks still in flight not to
write bundles any more (the demo removes the evidence directory right after).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.bundle.keep import EvidenceSettings
from agent.check.via import ViaState
from agent.kube.cluster import Cluster, ControlPlaneCluster

POLICY_TTL_S = 5.0


def _no_errors(stage: str) -> None:
    """The error sink of a context that counts nothing (one-off CLI checks, tests)."""


class PolicySource:
    """The live resources and a PolicyEngine over them, re-read at most every `ttl` seconds.

    Hundreds of paths share one listing per TTL instead of listing the cluster per probe."""

    def __init__(self, cluster: Cluster, ttl: float = POLICY_TTL_S) -> None:
        self.cluster = cluster
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = 0.0
        self._objects: list[dict[str, Any]] = []
        self._engine: Any = None
        self._generation: int | None = None
        self._memo: Any = None  # agent.istio.parse_memo.ParseMemo: unchanged objects are not re-parsed

    def _configured_domain(self) -> str | None:
        """The agent config's `mesh.clusterDomain`, when set; else the engine reads the sidecars'."""
        if isinstance(self.cluster, ControlPlaneCluster):
            return self.cluster.mesh_overrides.cluster_domain
        return None

    def invalidate(self) -> None:
        with self._lock:
            self._at = 0.0

    def get(self) -> tuple[list[dict[str, Any]], Any]:
        with self._lock:
            # With watch caches (LiveCluster.policy_generation) the engine is rebuilt only after a change.
            generation_of = getattr(self.cluster, "policy_generation", None)
            generation = generation_of() if generation_of is not None else None
            stale = time.monotonic() - self._at > self.ttl
            if self._engine is None or (stale and (generation is None or generation != self._generation)):
                from agent.istio.engine import PolicyEngine  # loads yaml: only once a check needs it
                from agent.istio.parse_memo import ParseMemo

                self._generation = generation
                objects = self.cluster.list_policy_objects()
                self._memo = self._memo or ParseMemo()
                self._engine = PolicyEngine(
                    objects, cluster_domain=self._configured_domain(), resources=self._memo.parse(objects)
                )
                self._objects = objects
                self._at = time.monotonic()
            return self._objects, self._engine


@dataclass(frozen=True)
class CheckContext:
    cluster: Cluster
    policy: PolicySource
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    errors: Callable[[str], None] = _no_errors  # counts agent-side errors by stage
    progress: Callable[[str], None] = _no_errors  # what the check does now, for a person waiting on it
    via: ViaState = field(default_factory=ViaState)  # exec or an ephemeral probe container (check.via)
    _rotation: dict[str, itertools.count[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _evidence_closed: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def for_cluster(
        cls,
        cluster: Cluster,
        *,
        evidence: EvidenceSettings | None = None,
        errors: Callable[[str], None] = _no_errors,
        via: ViaState | None = None,
    ) -> CheckContext:
        return cls(
            cluster=cluster,
            policy=PolicySource(cluster),
            evidence=evidence or EvidenceSettings(),
            errors=errors,
            via=via or ViaState(),
        )

    def next_index(self, path: str) -> int:
        with self._lock:
            return next(self._rotation.setdefault(path, itertools.count()))

    def close_evidence(self) -> None:
        """From now on no check writes a bundle (those in flight included)."""
        self._evidence_closed.set()

    @property
    def keeps_evidence(self) -> bool:
        return self.evidence.enabled and not self._evidence_closed.is_set()
