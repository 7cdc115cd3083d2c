"""Parse Istio sidecar (Envoy) access-log lines of every Istio era into AccessLogEntry.

Pure and total: garbage gives None (parse_line) or is skipped (parse_log); nothing raises.
No I/O. Layouts (istio-semantics.md §5.1), told apart by token shape after the flags:
- "istio-1.9+": `%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%TFR%" ...` (22 tokens;
  1.23+ logs `%UPSTREAM_CLUSTER_RAW%` in the same place, so both share this label)
- "istio-1.3": quoted mixer status + quoted TFR, ..., %ROUTE_NAME% (1.3-1.7, 21 tokens)
- "istio-1.2": quoted mixer status + quoted TFR, no route name (20 tokens; the seed line)
- "istio-1.8": quoted TFR then numeric bytes (20 tokens)
- "envoy-default": Envoy's built-in default format (bytes right after the flags, ends at
  "%UPSTREAM_HOST%"), e.g. a plain Envoy or a gateway without Istio's format
- "json": accessLogEncoding JSON (1.3 and current field names)
- "partial": a fragment with a response code but too few fields for any layout
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from agent.envoy.log_tokens import readable_reason, reason_from_details, restore_lost_quote, tokenize
from agent.envoy.response_flags import parse_flags
from agent.evidence import AccessLogEntry

__all__ = ["find_by_request_id", "parse_line", "parse_log", "readable_reason", "tokenize"]

_REQUEST = re.compile(r"^(?:\S+ \S+ \S+|- - -|\S+ \S+)$")
MAX_LINE_LEN = 64 * 1024

# Field names after "%RESPONSE_CODE% %RESPONSE_FLAGS%", per layout.
_TAIL = [
    "bytes_received",
    "bytes_sent",
    "duration",
    "upstream_service_time",
    "x_forwarded_for",
    "user_agent",
    "request_id",
    "authority",
    "upstream_host",
    "upstream_cluster",
    "upstream_local_address",
    "downstream_local_address",
    "downstream_remote_address",
    "requested_server_name",
]
_LAYOUTS: dict[str, list[str]] = {
    "istio-1.9+": [
        "response_code_details",
        "connection_termination_details",
        "upstream_transport_failure_reason",
        *_TAIL,
        "route_name",
    ],
    "istio-1.3": ["istio_policy_status", "upstream_transport_failure_reason", *_TAIL, "route_name"],
    "istio-1.2": ["istio_policy_status", "upstream_transport_failure_reason", *_TAIL],
    "istio-1.8": ["upstream_transport_failure_reason", *_TAIL, "route_name"],
    "envoy-default": _TAIL[:9],
}
# Short flags, known or not yet known to us (a newer Envoy may add some): "UF", "URX,UF".
_FLAGS_SHAPE = re.compile(r"^[A-Z]{1,6}(?:,[A-Z]{1,6})*$")


def _value(raw: Any) -> str | None:
    if raw is None:
        return None
    text = str(raw) if not isinstance(raw, str) else raw
    return None if text in ("-", "") else text


def _int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


def _entry(layout: str, fields: Mapping[str, Any], raw: str) -> AccessLogEntry:
    details = _value(fields.get("response_code_details"))
    tfr = readable_reason(_value(fields.get("upstream_transport_failure_reason")))
    return AccessLogEntry(
        layout=layout,
        start_time=_value(fields.get("start_time")),
        method=_value(fields.get("method")),
        path=_value(fields.get("path")),
        protocol=_value(fields.get("protocol")),
        response_code=_int(fields.get("response_code")),
        response_flags=parse_flags(_value(fields.get("response_flags"))),
        response_code_details=details,
        connection_termination_details=_value(fields.get("connection_termination_details")),
        upstream_transport_failure_reason=tfr or reason_from_details(details),
        bytes_received=_int(fields.get("bytes_received")),
        bytes_sent=_int(fields.get("bytes_sent")),
        duration_ms=_int(fields.get("duration")),
        upstream_service_time_ms=_int(fields.get("upstream_service_time")),
        user_agent=_value(fields.get("user_agent")),
        request_id=_value(fields.get("request_id")),
        authority=_value(fields.get("authority")),
        upstream_host=_value(fields.get("upstream_host")),
        upstream_cluster=_value(fields.get("upstream_cluster")),
        upstream_local_address=_value(fields.get("upstream_local_address")),
        downstream_local_address=_value(fields.get("downstream_local_address")),
        downstream_remote_address=_value(fields.get("downstream_remote_address")),
        requested_server_name=_value(fields.get("requested_server_name")),
        route_name=_value(fields.get("route_name")),
        raw=raw,
    )


def _parse_json(line: str) -> AccessLogEntry | None:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or ("response_code" not in data and "response_flags" not in data):
        return None
    fields = {k: v for k, v in data.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    return _entry("json", fields, line)


def _choose_layout(rest: list[tuple[str, bool]]) -> tuple[str, list[str]]:
    """(layout name, field names) for the tokens after %RESPONSE_FLAGS%."""
    if len(rest) == 1 and rest[0][1]:
        return "partial", ["upstream_transport_failure_reason"]
    if len(rest) >= 9 and _int(rest[0][0]) is not None and rest[4][1] and not rest[1][1]:
        layout = "envoy-default"  # Envoy's own default format: bytes right after the flags
    elif not rest or not rest[0][1]:
        layout = "istio-1.9+"
    elif len(rest) > 1 and rest[1][1]:
        layout = "istio-1.3" if len(rest) >= len(_LAYOUTS["istio-1.3"]) else "istio-1.2"
    else:
        layout = "istio-1.8"
    names = _LAYOUTS[layout]
    return (layout if len(rest) >= len(names) else "partial"), names


def _parse_text(line: str) -> AccessLogEntry | None:
    tokens = tokenize(line)
    fields: dict[str, Any] = {}
    # Anchor on the response code: after the quoted request (HTTP or TCP "- - -"), or first.
    code_at = None
    for i in range(min(len(tokens) - 1, 8)):
        text, quoted = tokens[i]
        if quoted and _REQUEST.match(text) and _int(tokens[i + 1][0]) is not None and not tokens[i + 1][1]:
            code_at = i + 1
            method, _, after = text.partition(" ")
            path, _, protocol = after.partition(" ")
            fields.update(method=method, path=path, protocol=protocol)
            if i > 0 and tokens[i - 1][0].startswith("[") and tokens[i - 1][0].endswith("]"):
                fields["start_time"] = tokens[i - 1][0][1:-1]
            break
    if code_at is None:
        if len(tokens) >= 2 and not tokens[0][1] and _int(tokens[0][0]) is not None:
            code_at = 0  # a fragment that starts at %RESPONSE_CODE%
        else:
            return None
    code = _int(tokens[code_at][0])
    if code is None or code > 999 or code_at + 1 >= len(tokens):
        return None
    flags_text = tokens[code_at + 1][0]
    if flags_text != "-" and not _FLAGS_SHAPE.match(flags_text) and not parse_flags(flags_text):
        return None  # not a %RESPONSE_FLAGS% field: not an access-log line we understand
    fields.update(response_code=code, response_flags=flags_text)
    rest = tokens[code_at + 2 :]
    layout, names = _choose_layout(rest)
    for name, (text, _) in zip(names, rest, strict=False):
        fields[name] = text
    return _entry(layout, fields, line)


def parse_line(line: str) -> AccessLogEntry | None:
    """One access-log line as an AccessLogEntry, or None for comments, blanks and garbage."""
    if not isinstance(line, str):
        return None
    text = line.strip()
    if not text or text.startswith("#") or len(text) > MAX_LINE_LEN:
        return None
    if text.startswith("{"):
        return _parse_json(text)
    # A paste that lost the opening quote of the request (and what came before it) still parses.
    return _parse_text(restore_lost_quote(text))


def parse_log(text: str) -> list[AccessLogEntry]:
    """Every complete line of a log; garbage and partial (truncated, fragment) lines are skipped.

    Use parse_line directly to get what a fragment still tells (layout "partial")."""
    if not isinstance(text, str):
        return []
    entries = (parse_line(line) for line in text.splitlines())
    return [e for e in entries if e is not None and e.layout != "partial"]


def find_by_request_id(entries: Iterable[AccessLogEntry], request_id: str) -> list[AccessLogEntry]:
    """Entries whose x-request-id equals `request_id` (in log order)."""
    wanted = request_id.strip() if isinstance(request_id, str) else ""
    if not wanted:
        return []
    return [e for e in entries if e.request_id is not None and e.request_id.strip() == wanted]
