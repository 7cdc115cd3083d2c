"""Turn a loaded evidence bundle into what was observed about its probe, and diagnose it.

No file I/O (the Bundle is already read); calls the pure parsers and the policy engine, then the one
input builder the live agent uses too (agent.diagnose.assemble). Values the bundle cannot tell stay
None, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from agent.bundle.format import CLIENT_LOG, SERVER_LOG
from agent.bundle.read import Bundle
from agent.diagnose.assemble import Observed, diagnose, to_input
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.log_match import match_entry, rfc3339_epoch
from agent.envoy.stats import delta, parse_stats
from agent.errors import InputError, MeshproberError
from agent.evidence import AccessLogEntry, PolicyView
from agent.istio.mesh import SIDECAR_STATUS_ANNOTATION, runs_proxy
from agent.model import Diagnosis
from agent.probe.curl_output import parse_curl


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
    source = bundle.probe.get("source", {})
    name, ns = source.get("pod"), source.get("namespace")
    for obj in bundle.resources or ():
        meta = obj.get("metadata") or {}
        if obj.get("kind") != "Pod" or meta.get("name") != name or (ns and meta.get("namespace", ns) != ns):
            continue
        annotations: Mapping[str, Any] = meta.get("annotations") or {}
        return runs_proxy(obj.get("spec")) or SIDECAR_STATUS_ANNOTATION in annotations
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
    return rfc3339_epoch(raw) if isinstance(raw, str) else None


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


def _service(bundle: Bundle, host: str | None, port: int | None) -> tuple[str, int] | None:
    """The target Service's FQDN as the source pod's DNS search completes it, and its port."""
    if not host or not port:
        return None
    from agent.istio.topology import expand_host  # lazily, as the engine: it loads yaml

    ns = bundle.probe.get("source", {}).get("namespace")
    return expand_host(host, ns if isinstance(ns, str) else None), port


def observed(bundle: Bundle, repeatable: bool | None = None) -> Observed:
    """What the bundle says was observed about its probe."""
    rid = bundle.probe.get("request_id")
    rid = rid if isinstance(rid, str) else None
    host, port = _target(bundle)
    stats = _parsed_stats(bundle)
    if repeatable is None and isinstance(bundle.probe.get("repeatable"), bool):
        repeatable = bundle.probe["repeatable"]  # the agent's second probe, when it recorded one
    ns = bundle.probe.get("source", {}).get("namespace")
    target = bundle.probe.get("target")
    start = bundle.probe.get("start_time")
    start = start if isinstance(start, str) else None
    service = _service(bundle, host, port)
    client_line, _ = match_entry(bundle.texts.get(CLIENT_LOG), rid, start, service)
    return Observed(
        curl=parse_curl(bundle.curl_stdout, bundle.curl_stderr, bundle.curl_exit),
        expect=bundle.expect,
        request_id=rid,
        target=target if isinstance(target, str) else None,
        service=service,
        source_namespace=ns if isinstance(ns, str) else None,
        client_log=bundle.texts.get(CLIENT_LOG),
        server_log=bundle.texts.get(SERVER_LOG),
        clusters=bundle.clusters,
        policy=_policy(bundle, host, port, client_line),
        repeatable=repeatable,
        client_has_sidecar=_client_has_sidecar(bundle),
        client_stats_delta=_stats_delta(stats, "client"),
        server_stats_delta=_stats_delta(stats, "server"),
        expired_certs=_expired_certs(bundle, stats),
        start_time=start,
        curl_present=bundle.curl_present,
        **_mesh_facts(bundle),
    )


def _mesh_facts(bundle: Bundle) -> dict[str, Any]:
    """Logging on/off per sidecar and the server's istio-proxy health, from resources/ (as live)."""
    from agent.bundle.mesh_facts import mesh_facts
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


def build_input(bundle: Bundle, repeatable: bool | None = None) -> DiagnoseInput:
    return to_input(observed(bundle, repeatable))


def diagnose_bundle(bundle: Bundle, repeatable: bool | None = None) -> Diagnosis:
    """Classify a loaded bundle (pure from here on). A partial bundle (no curl files) whose logs hold
    no line of this probe has nothing to judge: InputError naming what was looked for."""
    seen = observed(bundle, repeatable)
    if not bundle.curl_present:
        inp = to_input(seen)
        if inp.client_entry is None and inp.server_entry is None:
            rid = seen.request_id or "none recorded"
            raise InputError(
                f"{bundle.path}: no curl files, and no access-log line is this probe's (request id "
                f"{rid}; nor a single line to {seen.target or 'the target'} near its start_time): nothing to diagnose"
            )
    return diagnose(seen)
