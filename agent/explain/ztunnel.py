"""Read ztunnel (Istio ambient) access-log lines and say what their `error=` means. Pure, no I/O.

ztunnel writes one `key=value` line per connection from its `access` target, e.g. (istio/ztunnel
PR #1273):

    error   access  connection complete     src.addr=10.244.1.6:42020 ... dst.hbone_addr=10.244.1.9:9080
    ... direction="inbound" bytes_sent=0 bytes_recv=0 duration="0ms"
    error="connection closed due to policy rejection: allow policies exist, but none allowed"

The level word (`info`/`warn`/`error`) and the message come first, with an RFC 3339 timestamp in
front when read through `kubectl logs`. Values with spaces are double-quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.model import Confidence, Verdict

_PAIR = re.compile(r'([a-z][\w.]*)=("(?:[^"\\]|\\.)*"|\S+)')
_HEAD = re.compile(
    r"^(?:\S*\d{4}-\d\d-\d\dT\S+\s+)?(?P<level>info|warn|warning|error|debug)\s+access\s+"
    r"(?P<message>connection (?:complete|opened|failed)[^=]*?)\s+\w[\w.]*="
)
H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW


@dataclass(frozen=True)
class ZtunnelRecord:
    level: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.fields.get("error") or None


def parse_ztunnel(line: str) -> ZtunnelRecord | None:
    """The record of one ztunnel access line, or None when `line` is not one."""
    head = _HEAD.match(line)
    if head is None or ("src.addr=" not in line and "dst.addr=" not in line):
        return None
    fields = {}
    for key, value in _PAIR.findall(line[head.end("message") :]):
        fields[key] = value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    return ZtunnelRecord(head.group("level"), head.group("message").strip(), fields)


# (substring of the lower-cased error, verdict, confidence, summary); first hit wins.
_ERRORS: tuple[tuple[str, Verdict, Confidence, str], ...] = (
    (
        "policy rejection",
        Verdict.RBAC_DENIED,
        H,
        "ztunnel closed the connection: an AuthorizationPolicy rejected it.",
    ),
    (
        "explicitly denied",
        Verdict.RBAC_DENIED,
        H,
        "ztunnel closed the connection: a DENY AuthorizationPolicy matched.",
    ),
    ("rbac", Verdict.RBAC_DENIED, M, "ztunnel rejected the connection on authorization grounds."),
    (
        "connection refused",
        Verdict.UPSTREAM_CONNECTION_REFUSED,
        H,
        "Nothing accepted the connection at the destination.",
    ),
    (
        "os error 111",
        Verdict.UPSTREAM_CONNECTION_REFUSED,
        H,
        "Nothing accepted the connection at the destination.",
    ),
    ("timed out", Verdict.UPSTREAM_CONNECT_TIMEOUT, M, "Connecting to the destination timed out."),
    ("no route to host", Verdict.UPSTREAM_CONNECT_TIMEOUT, M, "The destination address was unreachable."),
    (
        "expired",
        Verdict.TLS_CERT_EXPIRED,
        M,
        "A certificate in the HBONE handshake is expired or not yet valid.",
    ),
    (
        "unknownissuer",
        Verdict.TLS_CERT_UNTRUSTED,
        M,
        "The peer's certificate is not signed by a trusted root.",
    ),
    ("unknown ca", Verdict.TLS_CERT_UNTRUSTED, M, "The peer's certificate is not signed by a trusted root."),
    ("identity", Verdict.TLS_SAN_MISMATCH, M, "The peer's identity is not the one ztunnel expected."),
    ("tls", Verdict.TLS_HANDSHAKE_FAILED, L, "The HBONE (mTLS) handshake failed."),
    ("connection reset", Verdict.UPSTREAM_RESET, M, "The destination reset the connection."),
)


def judge_ztunnel(rec: ZtunnelRecord) -> tuple[Verdict, Confidence, str, list[str]]:
    """(verdict, confidence, summary, evidence) for one ztunnel record."""
    f = rec.fields
    ev = [f"ztunnel access log ({rec.level}): {rec.message}"]
    who = [f"{k}={f[k]}" for k in ("direction", "src.identity", "dst.service", "dst.workload") if f.get(k)]
    if who:
        ev.append("connection: " + ", ".join(who))
    err = rec.error
    if err is None:
        if rec.level == "error":
            return Verdict.UPSTREAM_RESET, L, "ztunnel logged an error without a reason.", ev
        return Verdict.OK, H, "ztunnel completed the connection without an error.", ev
    ev.append(f"error: {err}")
    low = err.lower()
    for needle, verdict, conf, summary in _ERRORS:
        if needle in low:
            return verdict, conf, summary, ev
    return (
        Verdict.UPSTREAM_RESET,
        L,
        "ztunnel could not complete the connection; the error names no known cause.",
        ev,
    )
