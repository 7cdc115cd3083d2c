"""Turn a loaded evidence bundle into the classifier's input: match log lines, cluster, policy, stats.

No file I/O (the Bundle is already read); calls the pure parsers and the policy engine. Values the
bundle cannot tell stay None, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.diagnose.inputs import DiagnoseInput
from agent.envoy.access_log import find_by_request_id, parse_log
from agent.envoy.config_dump import find_cluster
from agent.envoy.stats import delta, parse_stats
from agent.errors import MeshproberError
from agent.evidence import AccessLogEntry, ClusterInfo, PolicyView
from agent.probe.curl_output import parse_curl

if TYPE_CHECKING:
    from agent.bundle import Bundle


def _target(bundle: Bundle) -> tuple[str | None, int | None]:
    target = bundle.probe.get("target")
    if not isinstance(target, str) or not target:
        return None, None
    try:
        parts = urlsplit(target if "://" in target else "http://" + target)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None, None
    return parts.hostname, port


def _entry(text: str | None, rid: str | None) -> AccessLogEntry | None:
    if text is None or not rid:
        return None
    hits = find_by_request_id(parse_log(text), rid)
    return hits[-1] if hits else None  # the last line is the final attempt's outcome


def _cluster(
    bundle: Bundle, entry: AccessLogEntry | None, host: str | None, port: int | None
) -> ClusterInfo | None:
    clusters = bundle.clusters
    if not clusters:
        return None
    if entry is not None and entry.upstream_cluster:
        named = [c for c in clusters if c.name == entry.upstream_cluster]
        if named:
            return named[0]
    if host and port:
        from agent.istio.topology import expand_host  # lazily, as the engine below: it loads yaml

        ns = bundle.probe.get("source", {}).get("namespace")
        found = find_cluster(clusters, expand_host(host, ns if isinstance(ns, str) else None), port)
        if found is not None:
            return found
    outbound = [c for c in clusters if c.direction == "outbound" and (port is None or c.port == port)]
    return outbound[0] if len(outbound) == 1 else None


def _policy(
    bundle: Bundle, host: str | None, port: int | None, entry: AccessLogEntry | None
) -> PolicyView | None:
    if bundle.resources is None:
        return None
    # The sidecar's own cluster name says exactly which service it resolved the host to.
    parts = (entry.upstream_cluster or "").split("|") if entry is not None else []
    if len(parts) == 4 and parts[0] == "outbound" and parts[1].isdigit() and parts[3]:
        host, port = parts[3], int(parts[1])
    if not host or not port:
        return None
    from agent.istio.engine import PolicyEngine

    source = bundle.probe.get("source", {})
    ns = source.get("namespace")
    pod = source.get("pod") or None
    if not ns:
        bundle.notes.append("policy check skipped: probe.json has no source.namespace")
        return None
    try:
        return PolicyEngine(bundle.resources).check(str(ns), str(pod) if pod else None, host, port)
    except MeshproberError as exc:
        bundle.notes.append(f"policy check skipped: {exc}")
        return None


def _client_has_sidecar(bundle: Bundle) -> bool | None:
    """From the probing pod's object in resources/: an istio-proxy container (or sidecar status) or not."""
    # Not parse_pod: it rejects malformed metadata with InputError, and a bundle with an odd pod
    # object should still be diagnosed (the answer is then just less certain).
    from agent.istio.parse import has_proxy_container

    source = bundle.probe.get("source", {})
    name, ns = source.get("pod"), source.get("namespace")
    for obj in bundle.resources or ():
        meta = obj.get("metadata") or {}
        if obj.get("kind") != "Pod" or meta.get("name") != name or (ns and meta.get("namespace", ns) != ns):
            continue
        annotations: Mapping[str, Any] = meta.get("annotations") or {}
        return has_proxy_container(obj.get("spec")) or "sidecar.istio.io/status" in annotations
    return None


def _parsed_stats(bundle: Bundle) -> dict[str, dict[str, int]]:
    """Each stats snapshot present, parsed once (the deltas and the expiry check both read them)."""
    return {name: parse_stats(text) for name, text in bundle.texts.items() if "-stats." in name}


def _stats_delta(stats: Mapping[str, dict[str, int]], side: str) -> dict[str, int]:
    before, after = stats.get(f"{side}-stats.before"), stats.get(f"{side}-stats.after")
    if before is None or after is None:
        return {}
    return delta(before, after)


_EXPIRY = ".expiration_unix_time_seconds"


def _start_epoch(bundle: Bundle) -> float | None:
    raw = bundle.probe.get("start_time")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo else None


def _expired_certs(bundle: Bundle, stats: Mapping[str, dict[str, int]]) -> tuple[tuple[str, str], ...]:
    """(side, secret name) of certificates whose expiry gauge is before the probe's start."""
    start = _start_epoch(bundle)
    if start is None:
        return ()
    found: list[tuple[str, str]] = []
    for side in ("client", "server"):
        after = f"{side}-stats.after"
        snapshot = stats.get(after if bundle.texts.get(after) else f"{side}-stats.before")
        if snapshot is None:
            continue
        for name, value in snapshot.items():
            if not name.endswith(_EXPIRY) or ".ssl.certificate." not in name:
                continue
            secret = name[: -len(_EXPIRY)].rsplit(".ssl.certificate.", 1)[1]
            # 0 = no certificate loaded yet; only a real expiry in the past counts.
            if 0 < value < start and (side, secret) not in found:
                found.append((side, secret))
    return tuple(found)


def build_input(bundle: Bundle, repeatable: bool | None = None) -> DiagnoseInput:
    rid = bundle.probe.get("request_id")
    rid = rid if isinstance(rid, str) else None
    host, port = _target(bundle)
    client_entry = _entry(bundle.texts.get("client-access.log"), rid)
    stats = _parsed_stats(bundle)
    policy = _policy(bundle, host, port, client_entry)
    if repeatable is None and isinstance(bundle.probe.get("repeatable"), bool):
        repeatable = bundle.probe["repeatable"]  # the agent's second probe, when it recorded one
    return DiagnoseInput(
        curl=parse_curl(bundle.curl_stdout, bundle.curl_stderr, bundle.curl_exit),
        expected_status=bundle.expected_status,
        client_entry=client_entry,
        server_entry=_entry(bundle.texts.get("server-access.log"), rid),
        client_log_present="client-access.log" in bundle.texts,
        server_log_present="server-access.log" in bundle.texts,
        client_cluster=_cluster(bundle, client_entry, host, port),
        client_dump_present=bundle.clusters is not None,
        client_stats_delta=_stats_delta(stats, "client"),
        server_stats_delta=_stats_delta(stats, "server"),
        policy=policy,
        repeatable=repeatable,
        client_has_sidecar=_client_has_sidecar(bundle),
        target=bundle.probe.get("target") if isinstance(bundle.probe.get("target"), str) else None,
        expired_certs=_expired_certs(bundle, stats),
        **_mesh_facts(bundle),
    )


def _mesh_facts(bundle: Bundle) -> dict[str, Any]:
    """Logging on/off per sidecar and the server's istio-proxy health, from resources/ (as live)."""
    from agent.bundle_mesh import mesh_facts
    from agent.config.schema import PathConfig

    source = bundle.probe.get("source")
    target = bundle.probe.get("target")
    if not isinstance(source, dict) or not isinstance(target, str):
        return {}
    try:
        path = PathConfig.model_validate(
            {
                "name": "bundle",
                "from": {"namespace": source.get("namespace"), "workload": "w"},
                "to": {"url": target},
            }
        )
    except ValueError:
        return {}
    service, namespace, _ = path.destination()
    return mesh_facts(bundle.resources, bundle.texts, source, service, namespace, _start_epoch(bundle))
