"""Does a sidecar write access-log lines to its container log? From meshConfig + Telemetry resources.

Pure, no I/O: the caller passes the parsed meshConfig mapping and the raw Telemetry objects.
Mirrors istio/istio 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c:
- pilot/pkg/model/telemetry.go `applicableTelemetries`: the first selector-less Telemetry (by
  creation time) of the root namespace, then of the workload's namespace, then every Telemetry of
  that namespace whose `selector.matchLabels` the workload carries; later ones override earlier ones.
  Only Telemetries with `accessLogging` entries take part. `targetRefs` attach to gateways and
  waypoints, not sidecars, so they are skipped here.
- `AccessLogging` + `mergeLogs`: no such Telemetry and no `defaultProviders.accessLogging` ->
  the legacy meshConfig `accessLogFile` decides (pilot/pkg/networking/core/accesslog.go
  `setHTTPAccessLog`: empty = off, the default since the `default` profile leaves it unset).
  Otherwise providers come from the most specific entry that names some (default providers when
  none does), an entry's `match.mode` (CLIENT = outbound, SERVER = inbound, CLIENT_AND_SERVER)
  limits it, and `disabled: true` turns a provider off. If no named provider exists at all,
  Istio falls back to `accessLogFile` again.
- pkg/config/mesh/mesh.go `DefaultMeshConfig`: the built-in `envoy` provider is an
  `envoyFileAccessLog` to /dev/stdout; meshConfig `extensionProviders` replace it by name.
Only an `envoyFileAccessLog` to /dev/stdout (or the meshConfig file /dev/stdout) ends up in
`kubectl logs -c istio-proxy`; other providers (OpenTelemetry, gRPC ALS) log elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["CLIENT", "SERVER"]
STDOUT = "/dev/stdout"
_BUILTIN_ENVOY = {"name": "envoy", "envoyFileAccessLog": {"path": STDOUT}}


@dataclass(frozen=True)
class LoggingDecision:
    """Whether this sidecar's access-log lines can be read from its container log, and why."""

    on: bool
    why: str
    source: str | None = None  # "Telemetry ns/name" or "meshConfig.accessLogFile"
    filtered: bool = False  # a CEL filter may drop lines: a missing line then proves nothing


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _meta(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = _dict(obj.get("metadata"))
    return (
        str(meta.get("namespace") or "default"),
        str(meta.get("name") or ""),
        str(meta.get("creationTimestamp") or ""),
    )


def _selector(spec: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(_dict(spec.get("selector")).get("matchLabels")).items()}


def _targets(spec: Mapping[str, Any]) -> bool:
    return bool(_list(spec.get("targetRefs")) or spec.get("targetRef"))


def _telemetries(objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    tels = [
        o
        for o in objects
        if isinstance(o, Mapping)
        and o.get("kind") == "Telemetry"
        and str(o.get("apiVersion") or "").startswith("telemetry.istio.io/")
    ]
    # sortConfigByCreationTime: creation time, then name, then namespace.
    return sorted(tels, key=lambda o: (_meta(o)[2], _meta(o)[1], _meta(o)[0]))


def applicable(
    objects: Iterable[Mapping[str, Any]], root_namespace: str, namespace: str, labels: Mapping[str, str]
) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """(name, accessLogging entries) of the Telemetries that apply, least specific first."""
    tels = _telemetries(objects)

    def wide(ns: str) -> Mapping[str, Any] | None:
        for t in tels:
            spec = _dict(t.get("spec"))
            if _meta(t)[0] == ns and not _selector(spec) and not _targets(spec):
                return t
        return None

    chosen: list[Mapping[str, Any]] = []
    for ns in (root_namespace, namespace) if namespace != root_namespace else (root_namespace,):
        t = wide(ns)
        if t is not None:
            chosen.append(t)
    for t in tels:
        spec = _dict(t.get("spec"))
        sel = _selector(spec)
        if _meta(t)[0] == namespace and sel and all(labels.get(k) == v for k, v in sel.items()):
            chosen.append(t)
    out = []
    for t in chosen:
        entries = [e for e in _list(_dict(t.get("spec")).get("accessLogging")) if isinstance(e, Mapping)]
        if entries:
            ns, name, _ = _meta(t)
            out.append((f"Telemetry {ns}/{name}", entries))
    return out


def _mode_matches(entry: Mapping[str, Any], mode: Mode) -> bool:
    wanted = str(_dict(entry.get("match")).get("mode") or "CLIENT_AND_SERVER")
    return wanted == "CLIENT_AND_SERVER" or wanted == mode


def _names(entry: Mapping[str, Any]) -> list[str]:
    return [
        str(p.get("name")) for p in _list(entry.get("providers")) if isinstance(p, Mapping) and p.get("name")
    ]


def _disabled(entry: Mapping[str, Any]) -> bool:
    value = entry.get("disabled")
    return bool(value.get("value")) if isinstance(value, Mapping) else bool(value)


def _merge(
    logs: Sequence[tuple[str, list[Mapping[str, Any]]]], defaults: list[str], mode: Mode
) -> dict[str, tuple[bool, bool, str]]:
    """mergeLogs: provider -> (disabled, filtered, deciding Telemetry)."""
    if not logs:
        return {p: (False, False, "meshConfig.defaultProviders.accessLogging") for p in defaults}
    in_scope = list(defaults)
    filters: dict[str, bool] = {}
    for _, entries in logs:
        names: list[str] = []
        for e in entries:
            if not _mode_matches(e, mode):
                continue
            for p in _names(e):
                names.append(p)
                filters[p] = bool(_dict(e.get("filter")).get("expression"))
        if names:
            in_scope = names
    providers: dict[str, tuple[bool, bool, str]] = {}
    parents = list(defaults)
    for source, entries in logs:
        for e in entries:
            names = _names(e) or parents
            parents = names
            for p in names:
                if p not in in_scope or not _mode_matches(e, mode):
                    continue
                providers[p] = (
                    (True, False, source) if _disabled(e) else (False, filters.get(p, False), source)
                )
    return providers


def _provider(mesh: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for p in _list(mesh.get("extensionProviders")):
        if isinstance(p, Mapping) and p.get("name") == name:
            return p
    return _BUILTIN_ENVOY if name == "envoy" else None


def _stdout(provider: Mapping[str, Any]) -> bool:
    file_log = provider.get("envoyFileAccessLog")
    return isinstance(file_log, Mapping) and str(file_log.get("path") or STDOUT) == STDOUT


def _legacy(mesh: Mapping[str, Any]) -> LoggingDecision:
    path = str(mesh.get("accessLogFile") or "")
    if not path:
        return LoggingDecision(
            False, "meshConfig.accessLogFile is empty and no Telemetry resource turns access logging on"
        )
    if path != STDOUT:
        return LoggingDecision(
            False, f"meshConfig.accessLogFile is {path}, not /dev/stdout: lines are not in the container log"
        )
    return LoggingDecision(True, "meshConfig.accessLogFile is /dev/stdout", "meshConfig.accessLogFile")


def decide(
    mesh: Mapping[str, Any],
    objects: Iterable[Mapping[str, Any]],
    root_namespace: str,
    namespace: str,
    labels: Mapping[str, str],
    mode: Mode,
) -> LoggingDecision:
    """Does the sidecar of a pod (namespace, labels) log requests of this direction to its stdout?

    `mode` CLIENT = the probing pod's outbound request, SERVER = the destination's inbound one."""
    logs = applicable(objects, root_namespace, namespace, labels)
    defaults = [str(p) for p in _list(_dict(mesh.get("defaultProviders")).get("accessLogging"))]
    if not logs and not defaults:
        return _legacy(mesh)
    found = {p: v for p, v in _merge(logs, defaults, mode).items() if _provider(mesh, p) is not None}
    if not found:
        return _legacy(mesh)  # no usable provider: Istio falls back to the mesh config too
    live = {p: v for p, v in found.items() if not v[0]}
    readable = {p: v for p, v in live.items() if _stdout(_provider(mesh, p) or {})}
    if readable:
        name, (_, filtered, source) = sorted(readable.items())[0]
        why = f"{source} sends access logs to provider {name} (/dev/stdout)"
        return LoggingDecision(True, why + (", with a filter" if filtered else ""), source, filtered)
    if live:
        names = ", ".join(sorted(live))
        return LoggingDecision(
            False,
            f"access logs go to provider {names}, not to the container log",
            sorted(live.values())[0][2],
        )
    source = sorted(found.values())[0][2]
    return LoggingDecision(False, f"{source} disables access logging", source)


def enable_telemetry(namespace: str) -> str:
    """The Telemetry resource that turns access logging on (to stdout) for one namespace."""
    return (
        "apiVersion: telemetry.istio.io/v1\n"
        "kind: Telemetry\n"
        "metadata:\n"
        "  name: access-logging\n"
        f"  namespace: {namespace}\n"
        "spec:\n"
        "  accessLogging:\n"
        "  - providers:\n"
        "    - name: envoy\n"
    )
