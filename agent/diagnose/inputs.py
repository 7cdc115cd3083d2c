"""The classifier's input: every piece of parsed evidence for one probe, most of it optional.

Pure data, no I/O. The bundle loader and the agent's pipeline build a `DiagnoseInput`; the ladder
(ladder.py) reads it. Missing evidence is None / empty, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.evidence import AccessLogEntry, ClusterInfo, CurlResult, PolicyView


@dataclass(frozen=True)
class DiagnoseInput:
    curl: CurlResult
    expected_status: int = 200
    # Every status the path accepts (a path may `expect: [200, 404]`); empty means just expected_status.
    accepted_statuses: tuple[int, ...] = ()
    # Access-log lines of this request (matched by x-request-id) from each sidecar.
    client_entry: AccessLogEntry | None = None
    server_entry: AccessLogEntry | None = None
    # Whether each log file was present at all: "no line in a present log" is itself evidence.
    client_log_present: bool = False
    server_log_present: bool = False
    # The client sidecar's outbound cluster for the target (from its config dump).
    client_cluster: ClusterInfo | None = None
    client_dump_present: bool = False
    # Counter deltas (after - before) of each sidecar's /stats.
    client_stats_delta: Mapping[str, int] = field(default_factory=dict)
    server_stats_delta: Mapping[str, int] = field(default_factory=dict)
    # The Istio policy engine's view of client -> host:port (when resources were available).
    policy: PolicyView | None = None
    # Result of a second probe: True = failed the same way again, False = it did not, None = unknown.
    repeatable: bool | None = None
    # False when the probing pod is known to run without a sidecar (from resources or the agent).
    client_has_sidecar: bool | None = None
    target: str | None = None
    # Certificates a sidecar held whose expiry gauge (`ssl.certificate.<name>.expiration_unix_time_seconds`)
    # was already past when the probe started, e.g. ("client", "default").
    expired_certs: tuple[tuple[str, str], ...] = ()
    # False when no curl output was recorded (a bundle holding only access logs): judge from the logs.
    curl_present: bool = True
    # How the access-log lines were matched when not by x-request-id (log_match.py), for the evidence.
    match_notes: tuple[str, ...] = ()
    # Destination pods whose istio-proxy was in trouble around the probe: ("ns/pod", "not ready, ...").
    server_sidecar_trouble: tuple[tuple[str, str], ...] = ()
    # Sides ("client", "server") whose sidecar writes no readable access log, and why: no line from
    # them proves nothing. `server_logging_on`: the server side is known to log every request.
    logging_off: Mapping[str, str] = field(default_factory=dict)
    server_logging_on: bool = False
    # Sides whose logging could not be decided (Telemetry unreadable, no mesh config), and why.
    logging_unknown: Mapping[str, str] = field(default_factory=dict)
    # Control-plane objects the agent could not read (403/404), each naming object and permission.
    view_gaps: tuple[str, ...] = ()


def stat_sum(delta: Mapping[str, int], suffix: str) -> int:
    """Sum of the counters whose name ends with `suffix` (per-cluster stats carry the cluster name)."""
    return sum(v for k, v in delta.items() if k == suffix or k.endswith("." + suffix))
