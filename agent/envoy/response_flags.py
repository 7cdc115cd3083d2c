"""Envoy's response-flag catalog (`%RESPONSE_FLAGS%`) and a tolerant flag parser.

Source: envoyproxy/envoy `source/common/stream_info/utility.h` (ResponseFlagUtils
CORE_RESPONSE_FLAGS, through UnconditionalDropOverload) and the access-log usage docs.
Pure data and string handling; no I/O. RESPONSE_FLAGS is a plain dict so the classifier's
exhaustiveness test can iterate it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResponseFlag:
    short: str  # what %RESPONSE_FLAGS% prints, e.g. "UF"
    long: str  # what %RESPONSE_FLAGS_LONG% prints, e.g. "UpstreamConnectionFailure"
    meaning: str


_TABLE: tuple[tuple[str, str, str], ...] = (
    ("LH", "FailedLocalHealthCheck", "local service failed its health check (503)"),
    ("UH", "NoHealthyUpstream", "no healthy upstream host in the cluster (503)"),
    ("UT", "UpstreamRequestTimeout", "upstream request timeout, route timeout hit (504)"),
    ("LR", "LocalReset", "connection local reset (503)"),
    ("UR", "UpstreamRemoteReset", "upstream remote reset (503)"),
    ("UF", "UpstreamConnectionFailure", "upstream connection failure, incl. TLS handshake failure (503)"),
    ("UC", "UpstreamConnectionTermination", "upstream connection terminated before response (503)"),
    ("UO", "UpstreamOverflow", "upstream overflow: circuit breaker / connection pool limit (503)"),
    ("NR", "NoRouteFound", "no route configured for the request (404), or no filter chain (TCP)"),
    ("DI", "DelayInjected", "request delayed by fault injection"),
    ("FI", "FaultInjected", "request aborted by fault injection"),
    ("RL", "RateLimited", "request rate limited locally (429)"),
    ("UAEX", "UnauthorizedExternalService", "denied by the external authorization service"),
    ("RLSE", "RateLimitServiceError", "rate limit service error, request rejected"),
    ("DC", "DownstreamConnectionTermination", "downstream (client) connection terminated"),
    ("URX", "UpstreamRetryLimitExceeded", "retry limit (HTTP) or max connect attempts (TCP) reached"),
    ("SI", "StreamIdleTimeout", "stream idle timeout (408/504)"),
    ("IH", "InvalidEnvoyRequestHeaders", "invalid value in a strictly checked x-envoy-* header (400)"),
    ("DPE", "DownstreamProtocolError", "downstream request had an HTTP protocol error"),
    ("UMSDR", "UpstreamMaxStreamDurationReached", "upstream request reached max stream duration"),
    ("RFCF", "ResponseFromCacheFilter", "response served by the cache filter"),
    ("NFCF", "NoFilterConfigFound", "filter config not received within the warming deadline"),
    ("DT", "DurationTimeout", "request or connection exceeded max connection/request duration"),
    ("UPE", "UpstreamProtocolError", "upstream response had an HTTP protocol error (502)"),
    ("NC", "NoClusterFound", "upstream cluster not found"),
    ("OM", "OverloadManagerTerminated", "overload manager terminated the request"),
    ("DF", "DnsResolutionFailed", "DNS resolution of the upstream failed"),
    ("DO", "DropOverload", "request dropped by drop_overload (load shedding)"),
    ("DR", "DownstreamRemoteReset", "downstream sent a remote codec-level reset"),
    ("UDO", "UnconditionalDropOverload", "all traffic dropped: drop_overload set to 100%"),
)

RESPONSE_FLAGS: dict[str, ResponseFlag] = {s: ResponseFlag(s, long, m) for s, long, m in _TABLE}
LONG_TO_SHORT: dict[str, str] = {f.long.lower(): f.short for f in RESPONSE_FLAGS.values()}
# gRPC access-log (ALS) proto field names, e.g. upstream_connection_failure / upstreamConnectionFailure.
_ALS_NAMES: dict[str, str] = {
    "failed_local_healthcheck": "LH",
    "unauthorized_details": "UAEX",
    "overload_manager": "OM",
    "dns_resolution_failure": "DF",
    "drop_overload": "DO",
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _lookup(token: str) -> str | None:
    tok = token.strip().strip("\"'")
    if not tok or tok == "-":
        return None
    if tok.upper() in RESPONSE_FLAGS and tok.isupper():
        return tok
    key = tok.lower()
    if key in LONG_TO_SHORT:
        return LONG_TO_SHORT[key]
    snake = _CAMEL.sub("_", tok).lower()
    if snake in _ALS_NAMES:
        return _ALS_NAMES[snake]
    compact = snake.replace("_", "")
    return LONG_TO_SHORT.get(compact)


def _from_mapping(data: Mapping[str, Any]) -> tuple[str, ...]:
    if "response_flags" in data or "responseFlags" in data:
        return parse_flags(data.get("response_flags", data.get("responseFlags")))
    return tuple(f for k, v in data.items() if v is True and (f := _lookup(str(k))) is not None)


def parse_flags(text: str | Iterable[str] | Mapping[str, Any] | None) -> tuple[str, ...]:
    """Short flag names, in input order, deduplicated; () for "-", empty or unknown input.

    Accepts "-", "URX,UF", "UF URX", long names ("UpstreamConnectionFailure"), a JSON string or
    object with "response_flags", a list of names, or an ALS-style {flag_name: true} mapping.
    Unknown tokens are dropped (new Envoy flags show up in the raw line, not here).
    """
    if text is None:
        return ()
    tokens: Iterable[Any]
    if isinstance(text, Mapping):
        return _from_mapping(text)
    if isinstance(text, str):
        stripped = text.strip()
        if stripped[:1] in ("{", "[", '"'):
            try:
                decoded = json.loads(stripped)
            except (ValueError, RecursionError):
                decoded = None
            if isinstance(decoded, Mapping | list | str) and decoded != text:
                return parse_flags(decoded)
        tokens = re.split(r"[,\s|]+", stripped)
    elif isinstance(text, Iterable):
        tokens = [t for t in text if isinstance(t, str)]
    else:
        return ()
    out: list[str] = []
    for token in tokens:
        flag = _lookup(token) if isinstance(token, str) else None
        if flag and flag not in out:
            out.append(flag)
    return tuple(out)
