"""Shared value types of a check: what one probe attempt returned, the evidence gathered for it, and
`CheckResult`, the outcome as the store, metrics, API and page see it.

Value types only, no I/O, and no imports from the rest of agent/ beyond the pure value modules.
agent.check produces them, agent.bundle keeps them on disk, agent.serve consumes them;
`probe_failed_result` builds one for agent-side failures so they are stored and counted like others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.budget import check_budget_s
from agent.evidence import ClusterInfo, CurlResult, PolicyView
from agent.istio.control_plane import ControlPlane
from agent.istio.routing import Route
from agent.model import Confidence, Diagnosis, Verdict

if TYPE_CHECKING:
    from agent.config import PathConfig


@dataclass(frozen=True)
class Attempt:
    """One run of curl in the source pod: its request id, start time, raw output and parsed result."""

    request_id: str
    started: float
    stdout: bytes
    stderr: bytes
    exit_code: int
    curl: CurlResult


@dataclass
class Gathered:
    """Cross-check evidence of a failed probe; each piece None when it could not be fetched."""

    cluster_info: ClusterInfo | None = None
    dump: bytes | None = None
    client_log: str | None = None
    server_log: str | None = None
    policy: PolicyView | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    clusters: list[ClusterInfo] | None = None  # every cluster of the target port (subsets), EDS modes added
    control_plane: ControlPlane | None = None  # where the mesh config was read (agent.istio.control_plane)
    routed: Route | None = None  # the VirtualService route of the request, when one binds the host
    logging_off: dict[str, str] = field(
        default_factory=dict
    )  # side -> "<ns>/<pod>: why" its log was not read
    logging_unknown: dict[str, str] = field(default_factory=dict)  # side -> why logging could not be decided
    server_logging_on: bool = False  # known to log every request: a missing line is evidence
    server_trouble: tuple[tuple[str, str], ...] = ()  # destination pods whose istio-proxy is in trouble


@dataclass(frozen=True)
class SourceRef:
    namespace: str
    workload: str
    pod: str | None = None
    container: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "workload": self.workload,
            "pod": self.pod,
            "container": self.container,
        }


@dataclass(frozen=True)
class DestinationRef:
    service: str | None = None
    namespace: str | None = None
    port: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "namespace": self.namespace, "port": self.port}


def wait_budget(path: PathConfig) -> float:
    """How long a caller waits for one check of `path` before giving up on it."""
    return check_budget_s(path.timeout)


def source_ref(path: PathConfig, pod: str | None = None, container: str | None = None) -> SourceRef:
    """Where the path probes from; before a pod is picked, the configured container (if any)."""
    return SourceRef(path.source.namespace, path.source.label, pod, container or path.source.container)


def destination_ref(path: PathConfig) -> DestinationRef | None:
    """The path's destination service, when its target names one (None for an external URL)."""
    service, namespace, port = path.destination()
    return DestinationRef(service, namespace, port) if service else None


@dataclass(frozen=True)
class CheckResult:
    path: str
    source: SourceRef
    target: str
    diagnosis: Diagnosis
    started_at: float
    finished_at: float
    destination: DestinationRef | None = None
    http_status: int | None = None
    policy: PolicyView | None = None
    bundle_dir: Path | None = None
    error_stage: str | None = None  # agent-side failure stage: "exec", "api", "parse", "check" ...

    @property
    def duration_s(self) -> float:
        return max(0.0, self.finished_at - self.started_at)

    @property
    def healthy(self) -> bool:
        return self.diagnosis.healthy

    def to_json(self) -> dict[str, Any]:
        """DESIGN.md's `--json` object: path, source, target, plus the Diagnosis keys."""
        out: dict[str, Any] = {
            "path": self.path,
            "source": self.source.to_json(),
            "target": self.target,
            "destination": self.destination.to_json() if self.destination else None,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": round(self.duration_s, 6),
            "error_stage": self.error_stage,
            "bundle_dir": str(self.bundle_dir) if self.bundle_dir else None,
        }
        out.update(self.diagnosis.to_json())
        if self.http_status is not None:
            out["http_status"] = self.http_status
        return out


def probe_failed_result(
    path: str,
    source: SourceRef,
    target: str,
    stage: str,
    message: str,
    started_at: float,
    destination: DestinationRef | None = None,
) -> CheckResult:
    """An agent-side failure (the probe could not run) as a `probe_failed` result."""
    diagnosis = Diagnosis(
        verdict=Verdict.PROBE_FAILED,
        confidence=Confidence.HIGH,
        summary=f"The probe could not run ({stage}): {message}",
        evidence=(f"stage={stage}",),
    )
    return CheckResult(
        path=path,
        source=source,
        target=target,
        diagnosis=diagnosis,
        started_at=started_at,
        finished_at=time.time(),
        destination=destination,
        error_stage=stage,
    )
