"""Recognise Envoy's local-reply bodies (the text a sidecar sends instead of an upstream reply).

Pure string matching, no I/O. A body is only recognised when it *is* the local reply (it
starts with the phrase and is short), so an application page that merely mentions the words
is not mistaken for one. Whether the reply came from the client or the server sidecar is the
classifier's business (e.g. `x-envoy-upstream-service-time` present = relayed from upstream).

Kinds (stable snake_case strings):
- `upstream_reset_before_headers`: "upstream connect error or disconnect/reset before headers.
  [retried and the latest ]reset reason: <reason>[, transport failure reason: <tfr>]" (router
  onUpstreamReset). Reasons (Envoy `Http::Utility::resetReasonToString`): "connection failure"
  (older Envoy), "local connection failure", "remote connection failure", "connection timeout",
  "connection termination", "local reset", "local refused stream reset", "remote reset",
  "remote refused stream reset", "overflow", "protocol error", "overload manager reset",
  "connect error"; very old Envoy also wrote "... before headers. reset overflow" or nothing.
- `no_healthy_upstream`: "no healthy upstream" (503 UH)
- `upstream_request_timeout`: "upstream request timeout" (504 UT)
- `rbac_denied`: "RBAC: access denied" (403, AuthorizationPolicy)
- `upstream_max_stream_duration`: "upstream max stream duration reached" (UMSDR)
- `stream_idle_timeout`: "stream timeout" (SI)
- `request_timeout`: "request timeout" (HCM request_timeout, 408)
- `local_rate_limited`: "local_rate_limited" (429 RL)
- `fault_abort`: "fault filter abort" (FI)
- `overloaded`: "envoy overloaded" (OM)
- `jwt_denied`: "Jwt is missing" / "Jwt verification fails" / "Jwt is expired" / "Jwt issuer is
  not configured" ... (RequestAuthentication, 401/403)
- `cluster_not_found` is not a body: NC and NR replies are empty (404/503 with no body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS: tuple[str, ...] = (
    "upstream_reset_before_headers",
    "no_healthy_upstream",
    "upstream_request_timeout",
    "rbac_denied",
    "upstream_max_stream_duration",
    "stream_idle_timeout",
    "request_timeout",
    "local_rate_limited",
    "fault_abort",
    "overloaded",
    "jwt_denied",
)


@dataclass(frozen=True)
class LocalReply:
    kind: str  # one of KINDS
    reset_reason: str | None = None  # e.g. "connection termination", "remote connection failure"
    transport_failure_reason: str | None = None  # e.g. "TLS error: 268435703:...WRONG_VERSION_NUMBER"
    retried: bool = False  # "retried and the latest reset reason" (Envoy retried before giving up)


MAX_LOCAL_REPLY_LEN = 2048
_RESET_PREFIX = "upstream connect error or disconnect/reset before headers"
_RESET = re.compile(
    r"^upstream connect error or disconnect/reset before headers\.?\s*"
    r"(?:(?P<retried>retried and the latest )?reset reason:\s*(?P<reason>[^,]*?)"
    r"(?:,\s*transport failure reason:\s*(?P<tfr>.*?))?"
    r"|reset (?P<bare>\w[\w ]*?))?\s*$",
    re.DOTALL,
)
_EXACT: dict[str, str] = {
    "no healthy upstream": "no_healthy_upstream",
    "upstream request timeout": "upstream_request_timeout",
    "rbac: access denied": "rbac_denied",
    "upstream max stream duration reached": "upstream_max_stream_duration",
    "stream timeout": "stream_idle_timeout",
    "request timeout": "request_timeout",
    "local_rate_limited": "local_rate_limited",
    "fault filter abort": "fault_abort",
    "envoy overloaded": "overloaded",
}


def parse_local_reply(body: str) -> LocalReply | None:
    """The local reply `body` is, or None when it is not one of the known Envoy bodies."""
    if not isinstance(body, str):
        return None
    text = body.strip()
    if not text or len(text) > MAX_LOCAL_REPLY_LEN:
        return None
    if text.startswith(_RESET_PREFIX):
        m = _RESET.match(text)
        if m is None:
            return LocalReply("upstream_reset_before_headers")
        reason = m.group("reason") or m.group("bare")
        return LocalReply(
            "upstream_reset_before_headers",
            reset_reason=reason.strip() or None if reason else None,
            transport_failure_reason=(m.group("tfr") or "").strip() or None,
            retried=bool(m.group("retried")),
        )
    kind = _EXACT.get(text.lower())
    if kind:
        return LocalReply(kind)
    if text.startswith("Jwt ") and len(text) < 200:
        return LocalReply("jwt_denied")
    return None
