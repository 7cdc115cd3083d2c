"""Does a lab sidecar write an access log, per direction? meshConfig + Telemetry API, as istiod decides.

Pure: no I/O. Mirrors istio/istio at 86c9f01fd735:
- pilot/pkg/networking/core/accesslog.go (setHTTPAccessLog, f4a9fd1bb36): when the Telemetry API
  yields no logging config, fall back to `meshConfig.accessLogFile` (non-empty = a file log there);
- pilot/pkg/model/telemetry.go (applicableTelemetries, mergeLogs, matchWorkloadMode; 99d62f00e3c):
  the root namespace's namespace-wide Telemetry, then the workload namespace's, then the ones whose
  `selector.matchLabels` select the pod; providers come from `accessLogging[].providers` or
  `meshConfig.defaultProviders.accessLogging`; a lower level's `disabled: true` turns a provider off;
  `match.mode` CLIENT applies to outbound, SERVER to inbound, CLIENT_AND_SERVER (default) to both;
- pkg/config/mesh/mesh.go (DefaultMeshConfig, dd2c7486262): the built-in `envoy` provider writes
  the file /dev/stdout.
Not modelled: `filter` expressions (CEL; the lab logs every request when a filter is set) and
`targetRefs` (Telemetry attached to a Service applies to waypoints, not sidecars).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from meshlab.sidecar.istio_defaults import ISTIO_JSON_LOG_FORMAT as _DEFAULT_JSON

CLIENT, SERVER = "CLIENT", "SERVER"
# Built-in extension providers: envoy = file /dev/stdout; the others are not file logs.
_BUILTIN_FILE = {"envoy": "/dev/stdout"}
_NOT_LOGS = {"prometheus", "stackdriver"}  # metrics, or handled outside the HCM access_log list


@dataclass(frozen=True)
class LogDecision:
    """One direction of one sidecar: the file it logs to (None = no access log), its format, and why.

    `json_format` set: JSON lines with those fields; else text lines in `text_format` (None = Istio's
    default text format)."""

    path: str | None
    why: str
    text_format: str | None = None
    json_format: Mapping[str, Any] | None = None


def mesh_format(mesh: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any] | None]:
    """(text format, JSON fields) from meshConfig accessLogEncoding/accessLogFormat, as
    FileAccessLogFromMeshConfig builds them (telemetry_logging.go): JSON with accessLogFormat's
    fields (a JSON object) or Istio's default fields; TEXT with accessLogFormat (newline added) or
    Istio's default text format."""
    fmt = str(mesh.get("accessLogFormat") or "")
    if str(mesh.get("accessLogEncoding") or "TEXT").upper() == "JSON":
        fields: Mapping[str, Any] = _DEFAULT_JSON
        if fmt:
            try:
                parsed = json.loads(fmt)
            except ValueError:
                parsed = None  # istiod logs the error and keeps its default fields
            if isinstance(parsed, dict) and parsed:
                fields = parsed
        return None, fields
    if fmt:
        return (fmt if fmt.endswith("\n") else fmt + "\n"), None
    return None, None


def _accesslogging(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = (obj.get("spec") or {}).get("accessLogging") or []
    return [i for i in items if isinstance(i, Mapping)]


def _selector(obj: Mapping[str, Any]) -> Mapping[str, str]:
    spec = obj.get("spec") or {}
    return (spec.get("selector") or {}).get("matchLabels") or {}


def _namespace_wide(obj: Mapping[str, Any]) -> bool:
    spec = obj.get("spec") or {}
    return not _selector(obj) and not spec.get("targetRefs") and not spec.get("targetRef")


def _ns(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def applicable(
    telemetries: Iterable[Mapping[str, Any]], root: str, namespace: str, labels: Mapping[str, str]
) -> list[Mapping[str, Any]]:
    """Telemetry objects in force for a pod, least specific first (later ones override)."""
    items = sorted(
        telemetries, key=lambda t: (str((t.get("metadata") or {}).get("creationTimestamp", "")), _name(t))
    )
    out: list[Mapping[str, Any]] = []
    # One namespace-wide Telemetry per namespace counts (istiod takes the first; the oldest here).
    for ns in [root] if namespace == root else [root, namespace]:
        wide = next((t for t in items if _ns(t) == ns and _namespace_wide(t)), None)
        if wide is not None and _accesslogging(wide):
            out.append(wide)
    for t in items:
        sel = _selector(t)
        if (
            _ns(t) == namespace
            and sel
            and all(labels.get(k) == v for k, v in sel.items())
            and _accesslogging(t)
        ):
            out.append(t)
    return out


def _mode_matches(entry: Mapping[str, Any], mode: str) -> bool:
    match = entry.get("match")
    if not isinstance(match, Mapping):
        return True
    wanted = str(match.get("mode") or "CLIENT_AND_SERVER")
    return wanted == "CLIENT_AND_SERVER" or wanted == mode


def _names(entry: Mapping[str, Any]) -> list[str]:
    return [
        str(p.get("name")) for p in entry.get("providers") or [] if isinstance(p, Mapping) and p.get("name")
    ]


def merge_logs(levels: list[list[Mapping[str, Any]]], defaults: list[str], mode: str) -> dict[str, bool]:
    """Provider name -> disabled, as mergeLogs computes it for one workload mode."""
    if not levels:
        return dict.fromkeys(defaults, False)
    provider_names = list(defaults)
    for level in levels:
        named = {n for entry in level if _mode_matches(entry, mode) for n in _names(entry)}
        if named:
            provider_names = sorted(named)
    in_scope = set(provider_names)
    parent = list(defaults)
    out: dict[str, bool] = {}
    for level in levels:
        for entry in level:
            names = _names(entry) or parent
            parent = names
            for name in names:
                if name not in in_scope or not _mode_matches(entry, mode):
                    continue
                out[name] = entry.get("disabled") is True
    return out


def _file_providers(mesh: Mapping[str, Any]) -> dict[str, str | None]:
    """Extension provider name (lower case) -> its log file, or None for a provider that logs elsewhere."""
    found: dict[str, str | None] = dict(_BUILTIN_FILE)
    for p in mesh.get("extensionProviders") or []:
        if not isinstance(p, Mapping) or not p.get("name"):
            continue
        file_log = p.get("envoyFileAccessLog")
        name = str(p["name"]).lower()
        if isinstance(file_log, Mapping):
            found[name] = str(file_log.get("path") or "/dev/stdout")
        elif not set(p) & {"prometheus", "stackdriver"}:
            found[name] = None  # otel, envoy ALS ...: a log, not in a file
    return found


def _provider_format(mesh: Mapping[str, Any], name: str) -> tuple[str | None, Mapping[str, Any] | None]:
    """A file provider's logFormat (text / labels); the built-in `envoy` without one uses meshConfig's."""
    for p in mesh.get("extensionProviders") or []:
        if isinstance(p, Mapping) and str(p.get("name", "")).lower() == name.lower():
            log_format = (p.get("envoyFileAccessLog") or {}).get("logFormat") or {}
            if isinstance(log_format.get("labels"), Mapping):
                return None, dict(log_format["labels"]) or _DEFAULT_JSON
            if log_format.get("text"):
                text = str(log_format["text"])
                return (text if text.endswith("\n") else text + "\n"), None
            return (None, None) if name.lower() != "envoy" else mesh_format(mesh)
    return mesh_format(mesh)


def decide(
    mesh: Mapping[str, Any],
    telemetries: Iterable[Mapping[str, Any]],
    namespace: str,
    labels: Mapping[str, str],
    mode: str,
) -> LogDecision:
    """Whether a sidecar in `namespace` with `labels` logs its `mode` (CLIENT=outbound, SERVER=inbound) side."""
    root = str(mesh.get("rootNamespace") or "istio-system")
    in_force = applicable(telemetries, root, namespace, labels)
    defaults = [str(d) for d in ((mesh.get("defaultProviders") or {}).get("accessLogging") or [])]
    fallback_file = str(mesh.get("accessLogFile") or "")
    fallback = LogDecision(
        fallback_file or None,
        f"meshConfig.accessLogFile is {fallback_file!r}"
        if fallback_file
        else 'meshConfig.accessLogFile is ""',
        *mesh_format(mesh),
    )
    if not in_force and not defaults:
        return fallback
    providers = merge_logs([list(_accesslogging(t)) for t in in_force], defaults, mode)
    files = _file_providers(mesh)
    configs = {n: off for n, off in providers.items() if n.lower() in files and n.lower() not in _NOT_LOGS}
    if not configs:
        return fallback  # no provider istiod can build a log from: the legacy setting applies
    by = ", ".join(f"Telemetry {_name(t)}" for t in in_force) or "meshConfig.defaultProviders.accessLogging"
    for name, off in sorted(configs.items()):
        path = files[name.lower()]
        if not off and path:
            return LogDecision(path, f"provider {name} enabled by {by}", *_provider_format(mesh, name))
    return LogDecision(None, f"access logging disabled by {by}")
