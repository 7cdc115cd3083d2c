"""Derived facts the ladder decides on: who produced the reply, flags, reset and TLS failure reasons.

Pure, no I/O. The key mechanism: a response *relayed* from upstream (the client sidecar got it from
the server side; Envoy adds `x-envoy-upstream-service-time`, access log `via_upstream`) versus the
client sidecar's own *local reply* (no upstream answered). The same 503 body means different
things in each case.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.tls_reason import normalise
from agent.envoy.local_replies import LocalReply, parse_local_reply
from agent.envoy.log_tokens import split_details


@dataclass(frozen=True)
class Signals:
    status: int | None
    local_reply: LocalReply | None
    relayed: bool  # the final response came from the server side (not the client sidecar itself)
    envoy_seen: bool  # some Envoy handled the request (a sidecar is in the path)
    flags: tuple[str, ...]  # client sidecar's flags for this request
    server_flags: tuple[str, ...]
    reset_reason: str | None  # normalised, e.g. "connection termination", "remote connection failure"
    transport_failure: str | None  # raw TLS/connect failure text, as Envoy or curl wrote it
    details: str  # normalised response_code_details of the client line ("" when unknown)
    details_raw: str | None = None  # as logged, for evidence lines
    # True when `status` is the client sidecar line's %RESPONSE_CODE% because curl printed none.
    status_from_log: bool = False
    server_reset_reason: str | None = None  # the same two facts from the server sidecar's line
    server_transport_failure: str | None = None


def _useful(text: str | None) -> str | None:
    if text is None:
        return None
    t = text.strip().strip('"')
    return t if t and t != "-" else None


def _from_details(details: str | None) -> tuple[str | None, str | None]:
    """Reset reason (normalised) and failure text (as logged) from the braces of response_code_details."""
    parts = split_details(details)
    if parts is None:
        return None, None
    _, reason, failure = parts
    return normalise(reason) or None, _useful(failure)


def derive(inp: DiagnoseInput) -> Signals:
    curl = inp.curl
    headers = {k.lower(): v for k, v in curl.response_headers.items()}
    local = parse_local_reply(curl.body) if curl.body else None
    client = inp.client_entry
    server = inp.server_entry
    details_raw = _useful(client.response_code_details) if client else None
    details = normalise(details_raw or "")
    relayed = "x-envoy-upstream-service-time" in headers or "via upstream" in details
    if inp.client_has_sidecar is False and local is not None:
        relayed = True  # no client sidecar: any Envoy reply came from the server's sidecar
    if client is not None and client.upstream_service_time_ms is not None:
        relayed = True  # Envoy records an upstream service time only when upstream answered
    if not inp.curl_present and client is None and server is not None and server.response_code:
        # Only the server sidecar logged the request (no client line, no curl output): the answer
        # the client got is the one the server side made.
        relayed = True
    if (
        client is None
        and local is not None
        and server is not None
        and server.response_code == curl.http_status
        and server.response_flags
    ):
        # The server sidecar made this local reply itself and no client sidecar line exists: a client
        # sidecar relaying it would have added x-envoy-upstream-service-time (checked above), so the
        # reply reached curl straight from the server side.
        relayed = True
    envoy_seen = (
        client is not None
        or headers.get("server", "").lower() in ("envoy", "istio-envoy")
        or any(k.startswith("x-envoy-") for k in headers)
        or local is not None
    )
    d_reset, d_failure = _from_details(details_raw)
    reset = d_reset
    if local is not None and local.reset_reason:
        reset = normalise(local.reset_reason)
    failure = _useful(client.upstream_transport_failure_reason) if client else None
    if failure is None and local is not None:
        failure = _useful(local.transport_failure_reason)
    if failure is None:
        failure = d_failure
    status, status_from_log = curl.http_status, False
    logged = client if client is not None or inp.curl_present else server
    if status is None and (curl.exit_code == 0 or not inp.curl_present) and logged and logged.response_code:
        # curl printed no status (e.g. `-s -o /dev/null` without -w) or none was recorded: the
        # sidecar's line for this request says what was answered.
        status, status_from_log = logged.response_code, True
    s_details = _useful(server.response_code_details) if server else None
    s_reset, s_failure = _from_details(s_details)
    s_failure = (_useful(server.upstream_transport_failure_reason) if server else None) or s_failure
    return Signals(
        status=status,
        local_reply=local,
        relayed=relayed,
        envoy_seen=envoy_seen,
        flags=tuple(client.response_flags) if client else (),
        server_flags=tuple(server.response_flags) if server else (),
        reset_reason=reset,
        transport_failure=failure,
        details=details,
        details_raw=details_raw,
        server_reset_reason=s_reset,
        server_transport_failure=s_failure,
        status_from_log=status_from_log,
    )
