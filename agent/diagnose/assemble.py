"""The one way to turn what is known about a probe into the classifier's input and a diagnosis.

Pure, no I/O. The live check (agent.check) and an evidence bundle read back from disk
(agent.bundle.to_input) both describe a probe as `Observed` and call `diagnose()`, so
`meshprober diagnose DIR` reaches the same verdict as the agent that wrote the bundle.
Values nobody observed stay None; nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.diagnose.log_match import match_entry
from agent.envoy.config_dump import find_cluster
from agent.evidence import AccessLogEntry, ClusterInfo, CurlResult, PolicyView
from agent.istio.routing import Route
from agent.model import Diagnosis


@dataclass(frozen=True)
class Observed:
    """Everything observed about one probe attempt, from the live agent or from a bundle."""

    curl: CurlResult
    expect: tuple[int, ...] = (200,)  # every status the path accepts; the first is "the" expected one
    request_id: str | None = None
    target: str | None = None  # the probed URL
    service: tuple[str, int] | None = None  # the target Service's FQDN and port, when it names one
    source_namespace: str | None = None
    client_log: str | None = None  # None: not read; "" read and empty
    server_log: str | None = None
    clusters: Sequence[ClusterInfo] | None = None  # the client sidecar's (filtered) config dump
    policy: PolicyView | None = None
    repeatable: bool | None = None
    client_has_sidecar: bool | None = None
    client_stats_delta: Mapping[str, int] = field(default_factory=dict)
    server_stats_delta: Mapping[str, int] = field(default_factory=dict)
    expired_certs: tuple[tuple[str, str], ...] = ()
    start_time: str | None = None  # RFC 3339, when the probe started (matches lines without a request id)
    curl_present: bool = True  # False: no curl output was recorded, only logs
    routed: Route | None = None  # the VirtualService route, when no access-log line names the cluster
    logging_off: Mapping[str, str] = field(default_factory=dict)  # side -> "<ns>/<pod>: why" (no log read)
    logging_unknown: Mapping[str, str] = field(default_factory=dict)  # side -> why logging is unknown
    server_logging_on: bool = False  # the server sidecar is known to log every request
    server_sidecar_trouble: tuple[tuple[str, str], ...] = ()  # ("ns/pod", what is wrong with istio-proxy)
    view_gaps: tuple[str, ...] = ()  # control-plane objects that could not be read (policy in doubt)


def select_cluster(
    clusters: Sequence[ClusterInfo] | None,
    entry: AccessLogEntry | None,
    service: tuple[str, int] | None,
    routed: Route | None = None,
) -> ClusterInfo | None:
    """The client sidecar's cluster the request used: the one its access-log line names (subsets
    included), else the subset the VirtualService route names, else the Service's default cluster
    (under any cluster domain), else the only outbound cluster on that port."""
    if not clusters:
        return None
    if entry is not None and entry.upstream_cluster:
        named = [c for c in clusters if c.name == entry.upstream_cluster]
        if named:
            return named[0]
    if service is not None:
        subsets = [routed.subset] if routed is not None and routed.subset is not None else []
        for subset in [*subsets, None]:
            found = service_cluster(clusters, *service, subset)
            if found is not None:
                return found
    port = service[1] if service is not None else None
    outbound = [c for c in clusters if c.direction == "outbound" and (port is None or c.port == port)]
    return outbound[0] if len(outbound) == 1 else None


def service_cluster(
    clusters: Sequence[ClusterInfo], fqdn: str, port: int, subset: str | None = None
) -> ClusterInfo | None:
    """`outbound|port|subset|fqdn`; a cluster domain other than the engine's cluster.local still
    matches by `<svc>.<ns>.svc.` (the dump names the real domain)."""
    found = find_cluster(clusters, fqdn, port, subset)
    head, sep, _ = fqdn.partition(".svc.")
    if found is None and sep:
        found = find_cluster(clusters, head + ".svc", port, subset)
    return found


def matched_entries(o: Observed) -> tuple[AccessLogEntry | None, AccessLogEntry | None, tuple[str, ...]]:
    """The probe's client and server lines (by request id, else by time and target), and how."""
    client, client_how = match_entry(o.client_log, o.request_id, o.start_time, o.service)
    server, server_how = match_entry(o.server_log, o.request_id, o.start_time, o.service)
    notes = [f"client sidecar: {client_how}"] if client_how else []
    notes += [f"server sidecar: {server_how}"] if server_how else []
    return client, server, tuple(notes)


def to_input(o: Observed) -> DiagnoseInput:
    client_entry, server_entry, notes = matched_entries(o)
    return DiagnoseInput(
        curl=o.curl,
        expected_status=o.expect[0] if o.expect else 200,
        accepted_statuses=o.expect,
        client_entry=client_entry,
        server_entry=server_entry,
        client_log_present=o.client_log is not None,
        server_log_present=o.server_log is not None,
        client_cluster=select_cluster(o.clusters, client_entry, o.service, o.routed),
        client_dump_present=o.clusters is not None,
        client_stats_delta=o.client_stats_delta,
        server_stats_delta=o.server_stats_delta,
        policy=o.policy,
        repeatable=o.repeatable,
        client_has_sidecar=o.client_has_sidecar,
        target=o.target,
        expired_certs=o.expired_certs,
        curl_present=o.curl_present,
        match_notes=notes,
        logging_off=o.logging_off,
        logging_unknown=o.logging_unknown,
        server_logging_on=o.server_logging_on,
        server_sidecar_trouble=o.server_sidecar_trouble,
        view_gaps=o.view_gaps,
    )


def diagnose(o: Observed) -> Diagnosis:
    """The classifier's verdict on one observed probe (the ladder, every cross-check rule, drift)."""
    return classify(to_input(o))
