"""Prometheus metrics, computed at scrape time from the ResultStore (a custom Collector).

Names and labels exactly as DESIGN.md. Per-path labels are bounded: the configured path name,
source namespace/workload, destination service and port; never pod names, request ids or free text.
Every known verdict is exported (at 0 until seen), so rate() and alerts work from the first scrape.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable, Iterator
from importlib import metadata

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.config import PathConfig
from agent.evidence import PolicyView
from agent.istio.control_plane import ControlPlane
from agent.model import VERDICT_CATEGORY, Verdict
from agent.results import CheckResult
from agent.serve.store import PathSnapshot, ResultStore

PATH_LABELS = ["path", "source_namespace", "source_workload", "destination_service", "destination_port"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@functools.cache  # installed metadata does not change while the agent runs; each scrape read it
def _version() -> str:
    try:
        return metadata.version("meshprober")
    except metadata.PackageNotFoundError:
        return "unknown"


def path_label_values(name: str, path: PathConfig | None, result: CheckResult | None) -> list[str]:
    """Label values from the configured path (stable), falling back to the result."""
    if path is not None:
        service, _, port = path.destination()
        return [
            name,
            path.source.namespace,
            path.source.label,
            service or path.to.host_port[0],
            str(port or ""),
        ]
    if result is not None:
        dest = result.destination
        return [
            name,
            result.source.namespace,
            result.source.workload,
            (dest.service or "") if dest else "",
            str(dest.port or "") if dest and dest.port else "",
        ]
    return [name, "", "", "", ""]


class _Families:
    """The metric families of one scrape, filled path by path."""

    def __init__(self) -> None:
        self.success = GaugeMetricFamily(
            "meshprober_probe_success", "1 if the last probe got the expected status", labels=PATH_LABELS
        )
        self.duration = HistogramMetricFamily(
            "meshprober_probe_duration_seconds", "Probe duration", labels=PATH_LABELS
        )
        self.status = GaugeMetricFamily(
            "meshprober_probe_http_status_code", "HTTP status of the last probe (0: none)", labels=PATH_LABELS
        )
        self.last = GaugeMetricFamily(
            "meshprober_last_probe_timestamp_seconds", "When the last probe finished", labels=PATH_LABELS
        )
        self.total = CounterMetricFamily(
            "meshprober_probes_total", "Probes by outcome", labels=[*PATH_LABELS, "category", "verdict"]
        )
        self.verdict = GaugeMetricFamily(
            "meshprober_path_verdict",
            "State set: 1 for the current verdict",
            labels=[*PATH_LABELS, "category", "verdict"],
        )
        self.tls = GaugeMetricFamily(
            "meshprober_tls_conflict",
            "1 when the Istio policy in force makes client and server TLS disagree",
            labels=[*PATH_LABELS, "client_mode", "server_mode", "destination_rule", "peer_authentication"],
        )

    def add_path(self, labels: list[str], snap: PathSnapshot) -> None:
        latest = snap.latest
        if latest is not None:
            self.success.add_metric(labels, 1.0 if latest.healthy else 0.0)
            status = latest.http_status if latest.http_status is not None else latest.diagnosis.http_status
            self.status.add_metric(labels, float(status or 0))
            self.last.add_metric(labels, latest.finished_at)
        buckets = [(_le(le), float(n)) for le, n in snap.buckets] + [("+Inf", float(snap.duration_count))]
        self.duration.add_metric(labels, buckets, snap.duration_sum)
        for verdict in Verdict:
            vlabels = [*labels, VERDICT_CATEGORY[verdict].value, verdict.value]
            self.total.add_metric(vlabels, float(snap.verdict_counts.get(verdict, 0)))
            current = latest is not None and latest.diagnosis.verdict is verdict
            self.verdict.add_metric(vlabels, 1.0 if current else 0.0)
        if snap.policy is not None:
            self.tls.add_metric(
                [*labels, *_policy_labels(snap.policy)], 1.0 if snap.policy.status == "CONFLICT" else 0.0
            )

    def all(self) -> list[Metric]:
        return [self.success, self.duration, self.status, self.last, self.total, self.verdict, self.tls]


def _le(value: float) -> str:
    return repr(float(value))


def _policy_labels(view: PolicyView) -> list[str]:
    return [view.client_mode, view.server_mode, view.destination_rule or "", view.peer_authentication or ""]


class StoreCollector(Collector):
    """Reads the store at scrape time. `paths` gives the current configured PathConfigs (for labels)."""

    def __init__(
        self,
        store: ResultStore,
        paths: Callable[[], dict[str, PathConfig]],
        shard: Callable[[], tuple[int, int]] = lambda: (0, 1),
        config_ok: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._paths = paths
        self._shard = shard
        self._config_ok = config_ok

    def collect(self) -> Iterator[Metric]:
        fams = _Families()
        paths = self._paths()
        for snap in self._store.snapshot():
            fams.add_path(path_label_values(snap.name, paths.get(snap.name), snap.latest), snap)
        yield from fams.all()
        errors = CounterMetricFamily(
            "meshprober_errors_total", "Agent-side failures by stage", labels=["stage"]
        )
        for stage, count in sorted(self._store.errors().items()):
            errors.add_metric([stage], float(count))
        yield errors
        created = CounterMetricFamily(
            "meshprober_probe_containers_created",
            "Ephemeral probe containers added to pods (they stay until the pod is deleted)",
            labels=["source_namespace"],
        )
        for namespace, count in sorted(self._store.probe_containers().items()):
            created.add_metric([namespace], float(count))
        yield created
        build = GaugeMetricFamily(
            "meshprober_build_info", "Build information", labels=["version", "python_version"]
        )
        build.add_metric([_version(), platform.python_version()], 1.0)
        yield build
        index, count = self._shard()
        shard = GaugeMetricFamily(
            "meshprober_shard_info", "This replica's shard of the paths", labels=["index", "count"]
        )
        shard.add_metric([str(index), str(count)], 1.0)
        yield shard
        reload_ok = GaugeMetricFamily(
            "meshprober_config_last_reload_successful", "1 if the last config (re)load succeeded"
        )
        reload_ok.add_metric([], 1.0 if self._config_ok() else 0.0)
        yield reload_ok
        yield GaugeMetricFamily("meshprober_paths", "Paths this replica probes", value=float(len(paths)))
        yield from control_plane_metrics(self._store.control_plane())


def control_plane_metrics(plane: ControlPlane | None) -> Iterator[Metric]:
    """`meshprober_control_plane_info` (where istiod and its mesh config were found) and
    `meshprober_control_plane_view_gap` (1 per object that could not be read, naming the permission)."""
    info = GaugeMetricFamily(
        "meshprober_control_plane_info",
        "The control plane the policy view reads (istiod namespace, revision, mesh ConfigMap)",
        labels=["istio_namespace", "revision", "configmap", "root_namespace", "partial"],
    )
    gaps = GaugeMetricFamily(
        "meshprober_control_plane_view_gap",
        "1 per control-plane object the agent could not read (its view is partial)",
        labels=["object", "reason", "permission"],
    )
    if plane is not None:
        info.add_metric(
            [
                plane.istio_namespace,
                plane.revision or "default",
                plane.configmap or "",
                plane.root_namespace,
                "true" if plane.partial else "false",
            ],
            1.0,
        )
        for gap in plane.gaps:
            gaps.add_metric([gap.obj, gap.reason, gap.permission], 1.0)
    yield info
    yield gaps


def make_registry(*collectors: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


def single_probe_exposition(
    result: CheckResult, path: PathConfig | None, policy: PolicyView | None = None
) -> bytes:
    """Blackbox-exporter style: the exposition of one fresh probe only (for `GET /probe?path=NAME`)."""
    store = ResultStore(history=1)
    store.set_paths([result.path])
    store.set_policy(result.path, policy)
    store.record(result)
    paths = {result.path: path} if path is not None else {}

    class _One(Collector):
        def collect(self) -> Iterator[Metric]:
            fams = _Families()
            for snap in store.snapshot():
                fams.add_path(path_label_values(snap.name, paths.get(snap.name), snap.latest), snap)
            yield from fams.all()

    return generate_latest(make_registry(_One()))
