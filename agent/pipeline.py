"""run_check: one probe of one path, top to bottom (used by the scheduler, the API and the CLI).

pick a Ready source pod (rotating) -> exec curl in its app container -> parse -> classify.
On failure: probe once more (flaky or deterministic?) while agent.gather fetches the cross-check
evidence in parallel (the source sidecar's cluster for the target, the access-log line of the
request id from the source and destination istio-proxy, the policy engine's view of the live
resources), classify again with all of it, check for proxy drift, and keep an evidence bundle.
A source pod deleted mid-probe makes the result `probe_failed` (its sidecar vanished with it).
Agent-side failures become `probe_failed` results with the stage that failed; nothing raises.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.config import PathConfig
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.drift import with_drift
from agent.errors import (
    ClusterError,
    ClusterUnreachable,
    CommandNotFound,
    ExecTimeout,
    InputError,
    MeshproberError,
    NotFound,
)
from agent.evidence import CurlResult, PolicyView
from agent.gather import Gathered, PendingGather, log_entry, service_target
from agent.gather_mesh import view_gaps, with_logging_hint
from agent.kube.cluster import Cluster, ExecResult, PodInfo
from agent.model import Confidence, Diagnosis, Verdict
from agent.probe.argv import build_curl_argv
from agent.probe.curl_output import parse_curl
from agent.serve.results import CheckResult, SourceRef, destination_ref, probe_failed_result, source_ref

log = logging.getLogger(__name__)
EXEC_GRACE_S = 5.0  # the exec deadline is curl's own --max-time plus this
POLICY_TTL_S = 5.0


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

    def invalidate(self) -> None:
        with self._lock:
            self._at = 0.0

    def get(self) -> tuple[list[dict[str, Any]], Any]:
        with self._lock:
            if time.monotonic() - self._at > self.ttl or self._engine is None:
                from agent.istio.engine import PolicyEngine

                objects = self.cluster.list_policy_objects()
                self._engine = PolicyEngine(objects)
                self._objects = objects
                self._at = time.monotonic()
            return self._objects, self._engine


@dataclass
class CheckContext:
    cluster: Cluster
    policy: PolicySource
    evidence_dir: Path | None = None
    keep_per_path: int = 5
    max_bundle_bytes: int = 1_000_000
    errors: Callable[[str], None] = lambda stage: None  # counts agent-side errors by stage
    _rotation: dict[str, itertools.count[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_cluster(cls, cluster: Cluster, **kwargs: Any) -> CheckContext:
        return cls(cluster=cluster, policy=PolicySource(cluster), **kwargs)

    def next_index(self, path: str) -> int:
        with self._lock:
            return next(self._rotation.setdefault(path, itertools.count()))


@dataclass(frozen=True)
class Attempt:
    request_id: str
    started: float
    exec_result: ExecResult
    curl: CurlResult


def pick_source(cluster: Cluster, path: PathConfig, index: int) -> tuple[PodInfo, str]:
    """A Ready pod of the source workload (rotating), and the container to exec in."""
    src = path.source
    workload = src.label
    pods = cluster.workload_pods(src.namespace, workload)
    ready = [p for p in pods if p.ready and p.phase == "Running"]
    if src.require_sidecar:
        with_sidecar = [p for p in ready if p.has_sidecar]
        if ready and not with_sidecar:
            raise NotFound(
                f"no pod of {src.namespace}/{workload} has an istio-proxy sidecar; "
                "set from.require_sidecar: false to probe without one"
            )
        ready = with_sidecar
    if not ready:
        raise NotFound(f"no Ready pod for workload {src.namespace}/{workload} ({len(pods)} pods, none Ready)")
    pod = ready[index % len(ready)]
    container = src.container or pod.app_container
    if container is None or container not in pod.containers:
        raise NotFound(
            f"container {container or '(app)'} not in pod {pod.namespace}/{pod.name}; has {', '.join(pod.containers)}"
        )
    return pod, container


def probe_once(cluster: Cluster, pod: PodInfo, container: str, path: PathConfig) -> Attempt:
    request_id = str(uuid.uuid4())
    argv = build_curl_argv(path.to.target_url, request_id=request_id, timeout_s=path.timeout)
    started = time.time()
    result = cluster.exec(pod.namespace, pod.name, container, argv, timeout=path.timeout + EXEC_GRACE_S)
    return Attempt(request_id, started, result, parse_curl(result.stdout, result.stderr, result.exit_code))


def _probe_again(
    ctx: CheckContext, pod: PodInfo, container: str, path: PathConfig
) -> tuple[Attempt | None, MeshproberError | None]:
    """The confirming probe, or why it could not run (then the first probe's verdict stands)."""
    try:
        return probe_once(ctx.cluster, pod, container, path), None
    except MeshproberError as exc:
        log.info("confirming probe of %s could not run: %s", path.name, exc)
        return None, exc


def _pod_gone(cluster: Cluster, pod: PodInfo, error: MeshproberError | None) -> bool:
    """Was the source pod deleted while it was being probed? (Only asked when the re-probe failed.)"""
    if not isinstance(error, NotFound):
        return False
    try:
        cluster.get_pod(pod.namespace, pod.name)
    except NotFound:
        return True
    except MeshproberError:
        return False
    return False


def _same_failure(first: Diagnosis, second: Diagnosis) -> bool:
    return not second.healthy and second.category == first.category


def diagnose_attempt(
    attempt: Attempt, path: PathConfig, pod: PodInfo, g: Gathered | None, repeatable: bool | None
) -> Diagnosis:
    expected = path.expect[0] if path.expect else 200
    inp = DiagnoseInput(
        curl=attempt.curl,
        expected_status=expected,
        client_entry=log_entry(g.client_log, attempt.request_id) if g else None,
        server_entry=log_entry(g.server_log, attempt.request_id) if g else None,
        client_log_present=bool(g and g.client_log is not None),
        server_log_present=bool(g and g.server_log is not None),
        client_cluster=g.cluster_info if g else None,
        client_dump_present=bool(g and g.dump is not None),
        policy=g.policy if g else None,
        repeatable=repeatable,
        client_has_sidecar=pod.has_sidecar,
        target=path.to.target_url,
        **_mesh_facts(g),
    )
    diagnosis = classify(inp)
    if g is not None:
        diagnosis = with_logging_hint(diagnosis, g.log_namespaces_off)
    if (
        attempt.curl.http_status in path.expect
        and not diagnosis.healthy
        and diagnosis.verdict
        in {
            Verdict.UNEXPECTED_STATUS,
            Verdict.APP_ERROR,
        }
    ):
        # The path declares this status as expected (e.g. expect: [404]).
        diagnosis = Diagnosis(
            Verdict.OK, Confidence.HIGH, f"Got the expected HTTP {attempt.curl.http_status}."
        )
    return diagnosis


def _mesh_facts(g: Gathered | None) -> dict[str, Any]:
    """Logging off, the server sidecar's health and the control-plane gaps, for the classifier."""
    if g is None:
        return {}
    return {
        "logging_off": dict(g.logging_off),
        "server_logging_on": g.server_logging_on,
        "server_sidecar_trouble": g.server_trouble,
        "view_gaps": view_gaps(g.control_plane),
    }


def _exec_stage(exc: MeshproberError) -> str:
    if isinstance(exc, ExecTimeout):
        return "exec_timeout"
    return "api" if isinstance(exc, ClusterUnreachable) else "exec"


def _failed(
    ctx: CheckContext, path: PathConfig, source: SourceRef, stage: str, message: str, started: float
) -> CheckResult:
    """An agent-side failure: counted once here (the store does not count results), as probe_failed."""
    ctx.errors(stage)
    return probe_failed_result(
        path.name, source, path.to.target_url, stage, message, started, destination_ref(path)
    )


def run_check(path: PathConfig, ctx: CheckContext, *, eager_evidence: bool = False) -> CheckResult:
    """Probe `path` once, diagnose it (cross-checked when it fails) and keep its evidence. Never raises
    for cluster trouble: that becomes a `probe_failed` result naming the stage.

    `eager_evidence` fetches the cross-check evidence while the first probe runs instead of after it
    fails: for a user waiting on one probe (CLI, on-demand API). The schedule leaves it off: most of
    its probes are healthy, and the config dump's exec would be wasted on them."""
    started = time.time()
    destination = destination_ref(path)
    try:
        pod, container = pick_source(ctx.cluster, path, ctx.next_index(path.name))
    except ClusterError as exc:
        stage = "api" if isinstance(exc, ClusterUnreachable) else "pods"
        return _failed(ctx, path, source_ref(path), stage, str(exc), started)
    source = source_ref(path, pod.name, container)
    pending = PendingGather(ctx, path, pod) if eager_evidence else None
    try:
        first = probe_once(ctx.cluster, pod, container, path)
    except (CommandNotFound, ExecTimeout, ClusterError, InputError) as exc:
        _abandon(pending)
        return _failed(ctx, path, source, _exec_stage(exc), str(exc), started)
    quick = diagnose_attempt(first, path, pod, None, None)
    if quick.healthy:
        _abandon(pending)
        return CheckResult(
            path.name,
            source,
            path.to.target_url,
            quick,
            started,
            time.time(),
            destination,
            first.curl.http_status,
        )
    pending = pending or PendingGather(ctx, path, pod)
    # The confirming probe runs while the config dump and the policy view are fetched.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="confirm") as pool:
        confirming = pool.submit(_probe_again, ctx, pod, container, path)
        gathered = pending.finish(logs_after=confirming, request_id=first.request_id)
        second, second_error = confirming.result()
    if _pod_gone(ctx.cluster, pod, second_error):
        # The sidecar went away with the pod: what the first probe saw says nothing about the path.
        message = (
            f"source pod {pod.namespace}/{pod.name} was deleted during the probe; "
            f"its result ({quick.verdict.value}) is not trusted; the next run picks another pod."
        )
        return _failed(ctx, path, source, "pods", message, started)
    repeatable = (
        None if second is None else _same_failure(quick, diagnose_attempt(second, path, pod, None, None))
    )
    diagnosis = with_drift(
        diagnose_attempt(first, path, pod, gathered, repeatable), gathered.cluster_info, gathered.policy
    )
    result = CheckResult(
        path.name,
        source,
        path.to.target_url,
        diagnosis,
        started,
        time.time(),
        destination,
        first.curl.http_status,
        policy=gathered.policy,
    )
    if ctx.evidence_dir is not None:
        from agent.evidence_store import keep_bundle  # yaml and the writer: only when bundles are kept

        result = replace(
            result, bundle_dir=keep_bundle(ctx, path, pod, container, first, gathered, diagnosis)
        )
    return result


def _abandon(pending: PendingGather | None) -> None:
    if pending is not None:
        pending.abandon()


def policy_check(path: PathConfig, ctx: CheckContext) -> PolicyView | None:
    """Policy-only verdict for a configured path (no traffic), for meshprober_tls_conflict."""
    target = service_target(path)
    if target is None:
        return None
    fqdn, port = target
    _, engine = ctx.policy.get()
    return engine.check(path.source.namespace, None, fqdn, port)
