"""run_check: one probe of one path, top to bottom (used by the scheduler, the API and the CLI).

pick a Ready source pod (rotating) -> exec curl in its app container -> parse -> classify.
On failure: probe once more (flaky or deterministic?) while agent.check.gather fetches the
cross-check evidence in parallel (the source sidecar's cluster for the target, the access-log line of
the request id from the source and destination istio-proxy, the policy engine's view of the live
resources), classify again with all of it (drift included, as every classifier run) and keep an
evidence bundle. A source pod deleted mid-probe makes the result `probe_failed` (its sidecar vanished
with it). Agent-side failures become `probe_failed` results with the stage that failed; nothing raises.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from agent.check.context import CheckContext
from agent.check.gather import PendingGather, service_target
from agent.check.mesh_facts import view_gaps
from agent.check.via import probe_container_note, probe_via, via_stage
from agent.config import PathConfig
from agent.diagnose.assemble import Observed, diagnose
from agent.envoy.config_dump import parse_clusters
from agent.errors import (
    ClusterError,
    ClusterUnreachable,
    CommandNotFound,
    ExecTimeout,
    InputError,
    MeshproberError,
    NotFound,
    stage_of,
)
from agent.evidence import ClusterInfo, PolicyView
from agent.kube.cluster import Cluster, PodInfo
from agent.model import Diagnosis
from agent.probe.argv import build_curl_argv, build_curl_pair_argv
from agent.probe.curl_output import parse_curl
from agent.probe.transfers import split_transfers
from agent.results import (
    Attempt,
    CheckResult,
    Gathered,
    SourceRef,
    destination_ref,
    probe_failed_result,
    source_ref,
)

log = logging.getLogger(__name__)
EXEC_GRACE_S = 5.0  # the exec deadline is curl's own --max-time plus this


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
    curl = parse_curl(result.stdout, result.stderr, result.exit_code)
    return Attempt(request_id, started, result.stdout, result.stderr, result.exit_code, curl)


def probe_pair(
    cluster: Cluster, pod: PodInfo, container: str, path: PathConfig
) -> tuple[Attempt, Attempt | None]:
    """The probe and its confirming probe as two transfers of one curl run: one exec round trip
    for a user waiting on the diagnosis. When the output cannot be cut in two (a curl that ignored
    --next), the first transfer alone, and the caller confirms with a second exec as before."""
    ids = (str(uuid.uuid4()), str(uuid.uuid4()))
    argv = build_curl_pair_argv(path.to.target_url, request_ids=ids, timeout_s=path.timeout)
    started = time.time()
    result = cluster.exec(pod.namespace, pod.name, container, argv, timeout=2 * path.timeout + EXEC_GRACE_S)
    stdout = result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    parts = split_transfers(stdout, stderr, result.exit_code)
    if not parts:
        curl = parse_curl(result.stdout, result.stderr, result.exit_code)
        return Attempt(ids[0], started, result.stdout, result.stderr, result.exit_code, curl), None
    attempts = []
    at = started
    for request_id, part in zip(ids, parts, strict=False):
        curl = parse_curl(part.stdout, part.stderr, part.exit_code)
        attempts.append(
            Attempt(request_id, at, part.stdout.encode(), part.stderr.encode(), part.exit_code, curl)
        )
        at += curl.time_total_s or 0.0
    return attempts[0], (attempts[1] if len(attempts) > 1 else None)


def _probe_again(
    ctx: CheckContext, pod: PodInfo, container: str, path: PathConfig
) -> tuple[Attempt | None, MeshproberError | None]:
    """The confirming probe, or why it could not run (then the first probe's verdict stands)."""
    try:
        return probe_once(ctx.cluster, pod, container, path), None
    except MeshproberError as exc:
        log.info("confirming probe of %s could not run: %s", path.name, exc)
        return None, exc


def _pod_gone(cluster: Cluster, pod: PodInfo) -> bool:
    """Was the source pod deleted while it was being probed? (Asked when the confirming exec found
    no pod, or, for a pair, beside the evidence: its second transfer ran in the same exec.)"""
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
    """The verdict on one attempt, through the one input builder `meshprober diagnose` uses too."""
    return diagnose(
        Observed(
            curl=attempt.curl,
            expect=tuple(path.expect) or (200,),
            request_id=attempt.request_id,
            target=path.to.target_url,
            service=service_target(path),
            source_namespace=pod.namespace,
            client_log=g.client_log if g else None,
            server_log=g.server_log if g else None,
            clusters=_clusters(g),
            policy=g.policy if g else None,
            repeatable=repeatable,
            client_has_sidecar=pod.has_sidecar,
            **_mesh_facts(g),
        )
    )


def _mesh_facts(g: Gathered | None) -> dict[str, Any]:
    """The VirtualService route, logging off, the server sidecar's health and the control-plane gaps."""
    if g is None:
        return {}
    return {
        "routed": g.routed,
        "logging_off": dict(g.logging_off),
        "logging_unknown": dict(g.logging_unknown),
        "server_logging_on": g.server_logging_on,
        "server_sidecar_trouble": g.server_trouble,
        "view_gaps": view_gaps(g.control_plane),
    }


def _clusters(g: Gathered | None) -> list[ClusterInfo] | None:
    """The client sidecar's clusters from the filtered dump; the one found for the target when the
    dump could not be re-read (it was parsed once already)."""
    if g is None or g.dump is None:
        return None
    if g.clusters is not None:
        return g.clusters  # parsed by the gather, with the include_eds endpoint modes added
    try:
        return parse_clusters(g.dump)
    except (InputError, ValueError):
        return [g.cluster_info] if g.cluster_info is not None else []


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
    fails, and makes the probe and its confirming probe one exec (`probe_pair`): for a user waiting
    on one probe (CLI, on-demand API). The schedule leaves it off: most of its probes are healthy, and
    the config dump's exec and the second transfer would be wasted on them."""
    started = time.time()
    destination = destination_ref(path)
    try:
        pod, container = pick_source(ctx.cluster, path, ctx.next_index(path.name))
    except ClusterError as exc:
        stage = "api" if isinstance(exc, ClusterUnreachable) else "pods"
        return _failed(ctx, path, source_ref(path), stage, str(exc), started)
    source = source_ref(path, pod.name, container)
    ctx.progress(f"probing {path.to.target_url} from {pod.namespace}/{pod.name} ...")
    pending = PendingGather(ctx, path, pod, waiting=True) if eager_evidence else None
    second: Attempt | None = None
    try:
        if eager_evidence:
            (first, second), container = probe_via(ctx, pod, container, path, probe_pair)
        else:
            first, container = probe_via(ctx, pod, container, path, probe_once)
    except (CommandNotFound, ExecTimeout, ClusterError, InputError) as exc:
        _abandon(pending)
        return _failed(ctx, path, source, via_stage(exc) or stage_of(exc, default="exec"), str(exc), started)
    source = source_ref(path, pod.name, container)
    note = probe_container_note(container, ctx.via.settings, pod)
    quick = _noted(diagnose_attempt(first, path, pod, None, None), note)
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
    if second is not None:  # the confirming probe was the same exec's second transfer
        ctx.progress(
            f"{quick.verdict.value}: gathering evidence (sidecar config dump, access logs, policy) ..."
        )
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="confirm") as pool:
            source_gone = pool.submit(_pod_gone, ctx.cluster, pod)
            gathered = pending.finish(request_id=first.request_id, also=(second.request_id,))
            gone = source_gone.result()
    else:
        ctx.progress(
            f"{quick.verdict.value}: probing again while gathering evidence "
            "(sidecar config dump, access logs, policy) ..."
        )
        # The confirming probe runs while the config dump and the policy view are fetched.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="confirm") as pool:
            confirming = pool.submit(_probe_again, ctx, pod, container, path)
            gathered = pending.finish(logs_after=confirming, request_id=first.request_id)
            second, second_error = confirming.result()
        gone = isinstance(second_error, NotFound) and _pod_gone(ctx.cluster, pod)
    if gone:
        # The sidecar went away with the pod: what the first probe saw says nothing about the path.
        message = (
            f"source pod {pod.namespace}/{pod.name} was deleted during the probe; "
            f"its result ({quick.verdict.value}) is not trusted; the next run picks another pod."
        )
        return _failed(ctx, path, source, "pods", message, started)
    repeatable = (
        None if second is None else _same_failure(quick, diagnose_attempt(second, path, pod, None, None))
    )
    diagnosis = _noted(diagnose_attempt(first, path, pod, gathered, repeatable), note)
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
    if ctx.keeps_evidence:
        from agent.bundle.keep import keep_bundle  # yaml and the writer: only when bundles are kept

        kept = keep_bundle(
            ctx.evidence, path, pod, container, first, gathered, diagnosis,
            repeatable=repeatable, on_error=ctx.errors,
        )  # fmt: skip
        result = replace(result, bundle_dir=kept)
    return result


def _noted(diagnosis: Diagnosis, note: str | None) -> Diagnosis:
    return diagnosis if note is None else replace(diagnosis, evidence=(*diagnosis.evidence, note))


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
