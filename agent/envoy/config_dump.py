"""Read the clusters of an Envoy config_dump into ClusterInfo (TLS origination, SNI, SANs, DR).

Accepts the admin `/config_dump` (snake_case, v3 or v2 `envoy.admin.v2alpha`, full or filtered
by `resource=`/`name_regex=`, with or without `include_eds`) and istioctl's camelCase
`proxy-config cluster -o json` (a bare list of clusters). Pure: the caller reads the file. The
document is decoded once with json.loads and walked in place (no re-serialising, no copies of
sub-trees), so a 50 MB dump costs about what json.loads costs. Bad JSON raises InputError.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from agent.envoy.config_tls import endpoint_key, get, tls_of
from agent.errors import InputError
from agent.evidence import ClusterInfo, TlsOrigination

_DR_PATH = re.compile(r"/apis/[^/]+/[^/]+/namespaces/([^/]+)/destination-?rule/([^/]+)", re.IGNORECASE)
_DIRECTIONS = ("outbound", "inbound", "inbound-vip")
_FQDN = re.compile(r"^[A-Za-z0-9*_](?:[A-Za-z0-9*_.-]{0,252})$")
_SUBSET = re.compile(r"^[A-Za-z0-9_.~-]{1,253}$")
_BLANK_TAIL = re.compile(r"\s*\Z")
_RE_SPECIAL = set(".|*+?()[]{}^$\\")


def _load(data: str | bytes) -> Any:
    if isinstance(data, bytearray):
        data = bytes(data)
    if isinstance(data, bytes):
        blank = re.match(rb"\s*\S", data) is None  # finds the first non-blank byte; no copy
    elif isinstance(data, str):
        blank = re.match(r"\s*\S", data) is None
    else:
        raise InputError(f"config dump: expected text or bytes, got {type(data).__name__}")
    if blank:
        raise InputError("config dump: empty input")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        # Nothing but blanks after the error position means the document just stops there.
        at_end = _BLANK_TAIL.match(exc.doc, exc.pos) is not None
        if at_end or exc.msg.startswith("Unterminated"):
            raise InputError(f"config dump: truncated JSON at byte {exc.pos} ({exc.msg})") from None
        raise InputError(
            f"config dump: invalid JSON at byte {exc.pos} (line {exc.lineno} column {exc.colno}): {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"config dump: not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise InputError("config dump: JSON nested too deeply") from None


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))
    elif isinstance(value, dict):  # very old Envoy keyed some lists by name
        yield from (v for v in value.values() if isinstance(v, dict))


def _type_of(config: Mapping[str, Any]) -> str:
    kind = config.get("@type")
    return kind if isinstance(kind, str) else ""


def _raw_clusters(doc: Any) -> Iterator[dict[str, Any]]:
    """Every cluster object, from whichever shape the dump has."""
    if isinstance(doc, list):  # istioctl pc cluster -o json
        for item in _dicts(doc):
            inner = item.get("cluster")
            yield inner if isinstance(inner, dict) else item
        return
    for config in _dicts(doc.get("configs")):
        kind = _type_of(config)
        if kind.endswith("ClustersConfigDump") or not kind:
            for key in ("static_clusters", "dynamic_active_clusters"):
                for wrapper in _dicts(get(config, key)):
                    inner = wrapper.get("cluster")
                    if isinstance(inner, dict):
                        yield inner
        # Filtered dumps (`?resource=dynamic_active_clusters`) list DynamicCluster entries.
        inner = config.get("cluster")
        if isinstance(inner, dict):
            yield inner


def _raw_endpoint_configs(doc: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(doc, dict):
        return
    for config in _dicts(doc.get("configs")):
        for key in ("static_endpoint_configs", "dynamic_endpoint_configs"):
            for wrapper in _dicts(get(config, key)):
                inner = get(wrapper, "endpoint_config")
                if isinstance(inner, dict):
                    yield inner
        inner = get(config, "endpoint_config")
        if isinstance(inner, dict):
            yield inner


def _endpoint_modes(assignment: Mapping[str, Any]) -> dict[str, str]:
    """address -> tlsMode of a ClusterLoadAssignment; "disabled" when an endpoint has no tlsMode
    (Envoy then picks the `tlsMode-disabled` match, i.e. plaintext); "hbone" for an endpoint that
    istiod marks `tunnel: http` (an ambient workload, reached through the `connect_originate`
    internal listener, keyed by its `endpoint_id` "ip:port": istio/istio 86c9f01f
    pilot/pkg/xds/endpoints/endpoint_builder.go)."""
    modes: dict[str, str] = {}
    for locality in _dicts(get(assignment, "endpoints")):
        for lb in _dicts(get(locality, "lb_endpoints")):
            key = endpoint_key(get(lb, "endpoint"))
            if key is None:
                continue
            meta = get(get(lb, "metadata"), "filter_metadata")
            match = meta.get("envoy.transport_socket_match") if isinstance(meta, dict) else None
            mode = match.get("tlsMode") if isinstance(match, dict) else None
            if isinstance(match, dict) and match.get("tunnel") == "http":
                mode = "hbone"
            modes[key] = mode if isinstance(mode, str) else "disabled"
    return modes


def destination_rule_from_path(path: Any) -> str | None:
    """`/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/details` -> "default/details"."""
    if not isinstance(path, str):
        return None
    m = _DR_PATH.search(path)
    return f"{m.group(1)}/{m.group(2)}" if m else None


def _cluster_info(raw: Mapping[str, Any], eds: Mapping[str, dict[str, str]]) -> ClusterInfo | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        return None
    direction = port = subset = fqdn = None
    parts = name.split("|")
    if len(parts) == 4 and parts[0] in _DIRECTIONS:
        direction = parts[0]
        port = int(parts[1]) if parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 5 else None
        subset, fqdn = parts[2] or None, parts[3] or None
    meta = get(get(raw, "metadata"), "filter_metadata")
    istio = meta.get("istio") if isinstance(meta, dict) else None
    istio = istio if isinstance(istio, dict) else {}
    if subset is None and isinstance(istio.get("subset"), str) and istio["subset"]:
        subset = istio["subset"]
    tls = tls_of(raw)
    modes: dict[str, str] = {}
    assignment = get(raw, "load_assignment")
    if isinstance(assignment, dict):
        modes.update(_endpoint_modes(assignment))
    eds_config = get(raw, "eds_cluster_config")
    service_name = get(eds_config, "service_name") if isinstance(eds_config, dict) else None
    modes.update(eds.get(service_name if isinstance(service_name, str) else name, {}))
    return ClusterInfo(
        name=name,
        direction=direction,
        port=port,
        subset=subset,
        fqdn=fqdn,
        tls=tls.mode,
        hbone=tls.hbone,
        sni=tls.sni,
        expected_sans=tls.sans,
        alpn=tls.alpn,
        destination_rule=destination_rule_from_path(istio.get("config")),
        endpoint_tls_modes=modes,
    )


@contextmanager
def _gc_paused() -> Generator[None, None, None]:
    """Pause the cyclic GC while decoding and walking: with millions of live JSON objects each
    full collection re-traverses the whole tree, which would double the cost of a 50 MB dump.
    JSON trees hold no reference cycles, so nothing collectable piles up meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_clusters(data: str | bytes) -> list[ClusterInfo]:
    """All clusters (static and dynamic active) of a config dump; [] for `{}` (a filter miss).

    Raises InputError for truncated/invalid JSON or a document that is not a config dump.
    """
    with _gc_paused():
        return _parse(data)


def _parse(data: str | bytes) -> list[ClusterInfo]:
    doc = _load(data)
    if isinstance(doc, dict):
        if not doc:
            return []
        if "configs" not in doc:
            if isinstance(doc.get("name"), str):  # one bare cluster
                doc = [doc]
            else:
                keys = ", ".join(sorted(str(k) for k in doc)[:5])
                raise InputError(f"config dump: not an Envoy config_dump (no 'configs' key; keys: {keys})")
    elif not isinstance(doc, list):
        raise InputError(f"config dump: expected a JSON object or list, got {type(doc).__name__}")
    eds: dict[str, dict[str, str]] = {}
    for assignment in _raw_endpoint_configs(doc):
        cluster_name = get(assignment, "cluster_name")
        if isinstance(cluster_name, str):
            eds.setdefault(cluster_name, {}).update(_endpoint_modes(assignment))
    out = [info for raw in _raw_clusters(doc) if (info := _cluster_info(raw, eds)) is not None]
    if not out and eds:
        # An include_eds dump filtered to endpoints only: report the endpoints' clusters.
        # Their TLS is unknown: the cluster objects are not in this dump.
        out = [
            replace(info, tls=TlsOrigination.UNKNOWN, sni=None, expected_sans=(), alpn=())
            for n in eds
            if (info := _cluster_info({"name": n}, eds)) is not None
        ]
    return out


def parse_endpoint_modes(data: str | bytes) -> dict[str, dict[str, str]]:
    """cluster name -> {endpoint "ip:port" -> tlsMode ("istio", "disabled", "hbone")} from an
    `include_eds` dump (full, or `resource=dynamic_endpoint_configs` filtered by `name_regex`, which
    Envoy applies to each ClusterLoadAssignment's cluster_name: checked on Envoy 1.40)."""
    with _gc_paused():
        doc = _load(data)
        eds: dict[str, dict[str, str]] = {}
        for assignment in _raw_endpoint_configs(doc):
            name = get(assignment, "cluster_name")
            if isinstance(name, str):
                eds.setdefault(name, {}).update(_endpoint_modes(assignment))
        return eds


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _RE_SPECIAL else ch for ch in text)


def _check_target(fqdn: str, port: int, subset: str | None) -> None:
    if not isinstance(fqdn, str) or not _FQDN.match(fqdn):
        raise InputError(f"cluster lookup: bad host name {fqdn!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(f"cluster lookup: port must be 1-65535, got {port!r}")
    if subset is not None and (not isinstance(subset, str) or not _SUBSET.match(subset)):
        raise InputError(f"cluster lookup: bad subset name {subset!r}")


def cluster_name_regex(fqdn: str, port: int, subset: str | None = None) -> str:
    """Anchored regex for `config_dump?resource=dynamic_active_clusters&name_regex=` (RE2 syntax)."""
    _check_target(fqdn, port, subset)
    return "^" + _escape(f"outbound|{port}|{subset or ''}|{fqdn}") + "$"


def service_clusters_regex(fqdn: str, port: int) -> str:
    """Anchored regex for every cluster of one Service port: the default and each subset
    (`outbound|PORT|SUBSET|HOST`), under any cluster domain when `fqdn` is `<svc>.<ns>.svc.<domain>`
    (a cluster whose domain is not `cluster.local` still matches)."""
    _check_target(fqdn, port, None)
    host = fqdn.lower().rstrip(".")
    head, sep, _domain = host.partition(".svc.")
    host_re = _escape(head + ".svc") + r"\.[^|]+" if sep else _escape(host)
    return "^" + _escape(f"outbound|{port}|") + "[^|]*" + _escape("|") + host_re + "$"


def find_cluster(
    clusters: Iterable[ClusterInfo], fqdn: str, port: int, subset: str | None = None
) -> ClusterInfo | None:
    """The outbound cluster for fqdn:port[/subset]; a short name ("reviews") matches one unique FQDN."""
    _check_target(fqdn, port, subset)
    host = fqdn.lower().rstrip(".")
    candidates = [
        c
        for c in clusters
        if c.direction == "outbound" and c.port == port and (c.subset or None) == (subset or None) and c.fqdn
    ]
    for c in candidates:
        if c.fqdn is not None and c.fqdn.lower() == host:
            return c
    prefixed = [c for c in candidates if c.fqdn is not None and c.fqdn.lower().startswith(host + ".")]
    return prefixed[0] if len(prefixed) == 1 else None


__all__ = [
    "TlsOrigination",
    "cluster_name_regex",
    "destination_rule_from_path",
    "find_cluster",
    "parse_clusters",
    "parse_endpoint_modes",
    "service_clusters_regex",
]
