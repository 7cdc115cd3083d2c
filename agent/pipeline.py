"""run_check: one probe of one path, top to bottom (used by the scheduler, the API and the CLI).

pick a Ready source pod (rotating) -> exec curl in its app container -> parse -> classify.
On failure: probe once more (flaky or deterministic?), gather the cross-check evidence in
parallel (the source sidecar's cluster for the target, access-log lines of both probes' request
ids from the source and destination istio-proxy, the policy engine's view of the live resources),
classify again with all of it, check for proxy drift, and keep an evidence bundle.
Agent-side failures become `probe_failed` results with the stage that failed; nothing raises.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.config import PathConfig
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.drift import proxy_drift
from agent.envoy.access_log import find_by_request_id, parse_log
from agent.envoy.config_dump import find_cluster, parse_clusters
from agent.errors import ClusterError, CommandNotFound, ExecTimeout, InputError, MeshproberError, NotFound
from agent.evidence import AccessLogEntry, ClusterInfo, CurlResult, PolicyView
from agent.kube.cluster import Cluster, ExecResult, PodInfo
from agent.kube.proxy import fetch_clusters_config_dump
from agent.model import Confidence, Diagnosis, Verdict
from agent.probe.argv import build_curl_argv
from agent.probe.curl_output import parse_curl
from agent.serve.results import CheckResult, DestinationRef, SourceRef, probe_failed_result

log = logging.getLogger(__name__)
EXEC_GRACE_S = 5.0  # the exec deadline is curl's own --max-time plus this
LOG_WINDOW_S = 120
POLICY_TTL_S = 5.0
SIDECAR = "istio-proxy"


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


def source_ref(path: PathConfig, pod: PodInfo | None = None, container: str | None = None) -> SourceRef:
    src = path.source
    return SourceRef(src.namespace, src.workload or src.selector or "", pod.name if pod else None, container)


def destination_ref(path: PathConfig) -> DestinationRef | None:
    service, namespace, port = path.destination()
    return DestinationRef(service, namespace, port) if service else None


def pick_source(cluster: Cluster, path: PathConfig, index: int) -> tuple[PodInfo, str]:
    """A Ready pod of the source workload (rotating), and the container to exec in."""
    src = path.source
    workload = src.workload or src.selector or ""
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


def _probe_again(ctx: CheckContext, pod: PodInfo, container: str, path: PathConfig) -> Attempt | None:
    """The confirming probe; None when it could not run (the first probe's verdict stands)."""
    try:
        return probe_once(ctx.cluster, pod, container, path)
    except MeshproberError as exc:
        log.info("confirming probe of %s could not run: %s", path.name, exc)
        return None


def _same_failure(first: Diagnosis, second: Diagnosis) -> bool:
    return not second.healthy and second.category == first.category


@dataclass
class Gathered:
    cluster_info: ClusterInfo | None = None
    dump: bytes | None = None
    client_log: str | None = None
    server_log: str | None = None
    policy: PolicyView | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _server_pods(cluster: Cluster, path: PathConfig) -> list[PodInfo]:
    service, namespace, _ = path.destination()
    if not service or not namespace:
        return []
    svc = next((s for s in cluster.list_services(namespace) if s.name == service), None)
    if svc is None or not svc.selector:
        return []
    selector = ",".join(f"{k}={v}" for k, v in sorted(svc.selector.items()))
    return [p for p in cluster.list_pods(namespace, selector) if p.has_sidecar][:3]


def gather(
    ctx: CheckContext, path: PathConfig, pod: PodInfo, logs_after: Future[Any] | None = None
) -> Gathered:
    """Cross-check evidence, fetched in parallel; each piece is optional and failures become notes.

    The config dump and the policy view start at once; the access logs wait for `logs_after` (the
    confirming second probe) so they are read after it, when the first probe's line has been flushed.
    """
    out = Gathered()
    service, namespace, port = path.destination()
    fqdn = f"{service}.{namespace}.svc.cluster.local" if service and namespace else None
    cluster = ctx.cluster

    def dump() -> None:
        if fqdn and port and pod.has_sidecar:
            out.dump = fetch_clusters_config_dump(cluster, pod.namespace, pod.name, fqdn, port, timeout=10)
            out.cluster_info = find_cluster(parse_clusters(out.dump), fqdn, port)

    def after_probe() -> None:
        if logs_after is not None:
            wait([logs_after])  # bounded: the probe's exec has its own deadline

    def client_log() -> None:
        after_probe()
        if pod.has_sidecar:
            out.client_log = cluster.logs(pod.namespace, pod.name, SIDECAR, since_seconds=LOG_WINDOW_S)

    def server_log() -> None:
        after_probe()
        logs = [
            cluster.logs(p.namespace, p.name, SIDECAR, since_seconds=LOG_WINDOW_S)
            for p in _server_pods(cluster, path)
        ]
        out.server_log = "".join(logs) if logs else None

    def policy() -> None:
        if not (service and namespace and port):
            return
        objects, engine = ctx.policy.get()
        out.objects = objects
        out.policy = engine.check(pod.namespace, pod.name, fqdn, port)

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="gather") as pool:
        jobs: dict[str, Future[None]] = {
            "config_dump": pool.submit(dump),
            "client_log": pool.submit(client_log),
            "server_log": pool.submit(server_log),
            "policy": pool.submit(policy),
        }
        for stage, job in jobs.items():
            try:
                job.result()
            except (MeshproberError, OSError, ValueError, KeyError) as exc:
                out.notes.append(f"{stage}: {exc}")
                ctx.errors(stage)
    return out


def _entry(text: str | None, request_id: str) -> AccessLogEntry | None:
    if not text:
        return None
    found = find_by_request_id(parse_log(text), request_id)
    return found[-1] if found else None


def diagnose_attempt(
    attempt: Attempt, path: PathConfig, pod: PodInfo, g: Gathered | None, repeatable: bool | None
) -> Diagnosis:
    expected = path.expect[0] if path.expect else 200
    inp = DiagnoseInput(
        curl=attempt.curl,
        expected_status=expected,
        client_entry=_entry(g.client_log, attempt.request_id) if g else None,
        server_entry=_entry(g.server_log, attempt.request_id) if g else None,
        client_log_present=bool(g and g.client_log is not None),
        server_log_present=bool(g and g.server_log is not None),
        client_cluster=g.cluster_info if g else None,
        client_dump_present=bool(g and g.dump is not None),
        policy=g.policy if g else None,
        repeatable=repeatable,
        client_has_sidecar=pod.has_sidecar,
        target=path.to.target_url,
    )
    diagnosis = classify(inp)
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


def _with_drift(diagnosis: Diagnosis, g: Gathered) -> Diagnosis:
    drift = proxy_drift(g.cluster_info, g.policy)
    if drift is None or diagnosis.healthy:
        return diagnosis
    confidence = Confidence.MEDIUM if diagnosis.confidence is Confidence.HIGH else diagnosis.confidence
    return replace(
        diagnosis,
        confidence=confidence,
        summary=f"{diagnosis.summary} Note: {drift}.",
        evidence=(*diagnosis.evidence, drift),
    )


def run_check(path: PathConfig, ctx: CheckContext) -> CheckResult:
    started = time.time()
    destination = destination_ref(path)
    try:
        pod, container = pick_source(ctx.cluster, path, ctx.next_index(path.name))
    except ClusterError as exc:
        ctx.errors("pods")
        return probe_failed_result(
            path.name, source_ref(path), path.to.target_url, "pods", str(exc), started, destination
        )
    source = source_ref(path, pod, container)
    try:
        first = probe_once(ctx.cluster, pod, container, path)
    except (CommandNotFound, ExecTimeout, ClusterError, InputError) as exc:
        stage = "exec_timeout" if isinstance(exc, ExecTimeout) else "exec"
        ctx.errors(stage)
        return probe_failed_result(
            path.name, source, path.to.target_url, stage, str(exc), started, destination
        )
    quick = diagnose_attempt(first, path, pod, None, None)
    if quick.healthy:
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
    # The confirming probe runs while the config dump and the policy view are fetched.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="confirm") as pool:
        confirming = pool.submit(_probe_again, ctx, pod, container, path)
        gathered = gather(ctx, path, pod, logs_after=confirming)
        second = confirming.result()
    repeatable = (
        None if second is None else _same_failure(quick, diagnose_attempt(second, path, pod, None, None))
    )
    diagnosis = _with_drift(diagnose_attempt(first, path, pod, gathered, repeatable), gathered)
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
        result = replace(
            result, bundle_dir=_keep_bundle(ctx, path, pod, container, first, gathered, diagnosis)
        )
    return result


def policy_check(path: PathConfig, ctx: CheckContext) -> PolicyView | None:
    """Policy-only verdict for a configured path (no traffic), for meshprober_tls_conflict."""
    service, namespace, port = path.destination()
    if not (service and namespace and port):
        return None
    _, engine = ctx.policy.get()
    return engine.check(path.source.namespace, None, f"{service}.{namespace}.svc.cluster.local", port)


def _keep_bundle(
    ctx: CheckContext,
    path: PathConfig,
    pod: PodInfo,
    container: str,
    attempt: Attempt,
    g: Gathered,
    d: Diagnosis,
) -> Path | None:
    from agent.evidence_store import keep_bundle

    try:
        return keep_bundle(ctx, path, pod, container, attempt, g, d)
    except OSError as exc:
        ctx.errors("evidence")
        log.warning("could not write the evidence bundle of %s: %s", path.name, exc)
        return None
