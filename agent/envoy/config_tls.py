"""TLS origination of one Envoy cluster object (any config_dump key style), plus key helpers.

Pure: reads already-decoded JSON in place, copies nothing big, does no I/O. Rules
(istio-semantics.md §3.6): explicit TLS socket with Istio certs (SDS `default`/`ROOTCA`, or v2
file certs under /etc/certs, or the `istio` ALPN) = ISTIO_MUTUAL; `transport_socket_matches`
with a `tlsMode: istio` match = AUTO (auto mTLS); no socket or raw_buffer = PLAINTEXT; other
TLS without a client certificate = SIMPLE, with one = MUTUAL.

HBONE (a control plane with ambient enabled, `PILOT_ENABLE_SENDING_HBONE`): istiod puts an `hbone`
match (`match: {tunnel: http}`, an internal_upstream socket) first and keeps what the cluster
would send to non-HBONE endpoints after it (istio/istio 86c9f01f
pilot/pkg/networking/core/cluster_tls.go `applyHBONETransportSocketMatches`): auto mTLS
`[hbone, tlsMode-istio {tlsMode: istio}, tlsMode-disabled {}]`; explicit ISTIO_MUTUAL
`[hbone, tlsMode-istio (no match: catch-all)]`; SIMPLE/MUTUAL `[hbone(tls), user (no match)]`;
DISABLE or no TLS `[hbone, tlsMode-disabled {}]`. So the mode is read with the hbone match set
aside: a `tlsMode: istio` selector means AUTO, otherwise the catch-all's socket decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agent.evidence import TlsOrigination

_ISTIO_SDS_NAMES = {"default", "ROOTCA"}
_ISTIO_CERT_DIRS = ("/etc/certs/", "./etc/certs/", "/var/run/secrets/istio")


@lru_cache(maxsize=256)
def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def get(obj: Any, snake: str) -> Any:
    """obj[snake] or obj[camelCase]; None when absent or obj is not a dict."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(snake)
    return obj.get(_camel(snake)) if value is None else value


def endpoint_key(endpoint: Any) -> str | None:
    """ "ip:port" (IPv6 "[ip]:port") of an Envoy Endpoint, or a pipe/internal address form."""
    address = get(endpoint, "address")
    sock = get(address, "socket_address")
    if isinstance(sock, dict):
        ip, port = get(sock, "address"), get(sock, "port_value")
        if isinstance(ip, str):
            host = f"[{ip}]" if ":" in ip else ip
            return f"{host}:{port}" if isinstance(port, int | str) else host
    pipe = get(address, "pipe")
    if isinstance(pipe, dict) and isinstance(pipe.get("path"), str):
        return "unix:" + pipe["path"]
    internal = get(address, "envoy_internal_address")
    if isinstance(internal, dict):
        target = get(internal, "endpoint_id")  # HBONE: the workload's "ip:port" behind connect_originate
        if isinstance(target, str) and target:
            return target
        name = get(internal, "server_listener_name")
        return f"internal:{name}" if isinstance(name, str) else None
    return None


@dataclass(frozen=True)
class TlsFacts:
    mode: TlsOrigination
    sni: str | None = None
    sans: tuple[str, ...] = ()
    alpn: tuple[str, ...] = ()
    hbone: bool = False  # an `hbone` match: HBONE to endpoints that support it, this mode to the rest


PLAINTEXT = TlsFacts(TlsOrigination.PLAINTEXT)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _sans(validation: Any) -> list[str]:
    """SAN strings from a CertificateValidationContext of any Envoy era."""
    out = list(_strings(get(validation, "verify_subject_alt_name")))  # v2
    matchers = get(validation, "match_subject_alt_names")
    for m in matchers if isinstance(matchers, list) else ():
        out += (
            [v for k, v in m.items() if isinstance(v, str) and k != "ignore_case"]
            if isinstance(m, dict)
            else []
        )
    typed = get(validation, "match_typed_subject_alt_names")
    for m in typed if isinstance(typed, list) else ():
        matcher = get(m, "matcher")
        if isinstance(matcher, dict):
            out += [v for k, v in matcher.items() if isinstance(v, str) and k != "ignore_case"]
    return out


def _context_facts(ctx: Any) -> TlsFacts:
    """Facts of an UpstreamTlsContext (v3 typed_config or v2 tls_context)."""
    if not isinstance(ctx, dict):
        return TlsFacts(TlsOrigination.UNKNOWN)
    common = get(ctx, "common_tls_context")
    common = common if isinstance(common, dict) else {}
    sds_names = [
        get(c, "name")
        for c in (get(common, "tls_certificate_sds_secret_configs") or [])
        if isinstance(c, dict)
    ]
    files = [
        get(get(c, "certificate_chain"), "filename")
        for c in (get(common, "tls_certificates") or [])
        if isinstance(c, dict)
    ]
    client_cert = bool(sds_names or get(common, "tls_certificates"))
    combined = get(common, "combined_validation_context")
    validation_sds = get(get(combined, "validation_context_sds_secret_config"), "name")
    if validation_sds is None:
        validation_sds = get(get(common, "validation_context_sds_secret_config"), "name")
    sans = _sans(get(combined, "default_validation_context")) + _sans(get(common, "validation_context"))
    alpn = _strings(get(common, "alpn_protocols"))
    istio = (
        any(n in _ISTIO_SDS_NAMES for n in sds_names)
        or validation_sds in _ISTIO_SDS_NAMES
        or any(isinstance(f, str) and f.startswith(_ISTIO_CERT_DIRS) for f in files)
        or "istio" in alpn
    )
    if client_cert:
        mode = TlsOrigination.ISTIO_MUTUAL if istio else TlsOrigination.MUTUAL
    else:
        mode = TlsOrigination.SIMPLE
    sni = get(ctx, "sni")
    return TlsFacts(mode, sni if isinstance(sni, str) and sni else None, tuple(dict.fromkeys(sans)), alpn)


def _socket_facts(socket: Any) -> TlsFacts:
    """Facts of a TransportSocket: raw_buffer = plaintext, tls = the context inside."""
    if not isinstance(socket, dict):
        return TlsFacts(TlsOrigination.UNKNOWN)
    name = socket.get("name")
    cfg = get(socket, "typed_config")
    if cfg is None:
        cfg = socket.get("config")  # v2 Struct config
    kind = cfg.get("@type", "") if isinstance(cfg, dict) else ""
    text = f"{name} {kind}".lower()
    if "raw_buffer" in text or "rawbuffer" in text:
        return PLAINTEXT
    if "tls" in text or (isinstance(cfg, dict) and get(cfg, "common_tls_context") is not None):
        return _context_facts(cfg)
    return TlsFacts(TlsOrigination.UNKNOWN)


def _match(m: Any) -> Any:
    return get(m, "match") if isinstance(m, dict) else None


def is_hbone_match(m: Any) -> bool:
    """The `hbone` transport-socket match (`match: {tunnel: http}`) istiod adds when sending HBONE."""
    match = _match(m)
    return isinstance(m, dict) and (
        m.get("name") == "hbone" or (isinstance(match, dict) and match.get("tunnel") == "http")
    )


def _selects_istio(m: Any) -> bool:
    match = _match(m)
    return isinstance(match, dict) and match.get("tlsMode") == "istio"


def _with_hbone(facts: TlsFacts, hbone: bool) -> TlsFacts:
    return TlsFacts(facts.mode, facts.sni, facts.sans, facts.alpn, hbone) if hbone else facts


def _matches_facts(matches: list[Any]) -> TlsFacts:
    entries = [m for m in matches if isinstance(m, dict)]
    hbone = any(is_hbone_match(m) for m in entries)
    rest = [m for m in entries if not is_hbone_match(m)]
    for m in rest:
        if _selects_istio(m):
            facts = _socket_facts(get(m, "transport_socket"))
            return TlsFacts(TlsOrigination.AUTO, facts.sni, facts.sans, facts.alpn, hbone)
    # No `tlsMode: istio` selector: the catch-all (no or empty match) is what non-HBONE endpoints get.
    catch_all = next((m for m in rest if not _match(m)), rest[0] if rest else None)
    if catch_all is None:
        return TlsFacts(TlsOrigination.UNKNOWN, hbone=hbone)
    return _with_hbone(_socket_facts(get(catch_all, "transport_socket")), hbone)


def tls_of(cluster: Any) -> TlsFacts:
    """How this cluster originates TLS (see module docstring)."""
    matches = get(cluster, "transport_socket_matches")
    if isinstance(matches, list) and matches:
        return _matches_facts(matches)
    socket = get(cluster, "transport_socket")
    if socket is not None:
        return _socket_facts(socket)
    v2 = get(cluster, "tls_context")
    if v2 is not None:
        return _context_facts(v2)
    return PLAINTEXT
