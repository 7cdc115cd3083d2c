"""Shared value types of every stage: verdict vocabulary, confidence, diagnosis.

Stdlib only, frozen, no I/O. The strings here are user-facing contracts (metric label values
and JSON keys, see DESIGN.md): add verdicts, never rename them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    OK = "ok"
    TLS = "tls"
    CONNECTIVITY = "connectivity"
    ROUTING = "routing"
    DNS = "dns"
    POLICY = "policy"
    OVERLOAD = "overload"
    APPLICATION = "application"
    PROBE = "probe"


class Verdict(StrEnum):
    OK = "ok"
    MTLS_PLAINTEXT_TO_STRICT = "mtls_plaintext_to_strict"
    MTLS_TO_PLAINTEXT_SERVER = "mtls_to_plaintext_server"
    TLS_CERT_UNTRUSTED = "tls_cert_untrusted"
    TLS_SAN_MISMATCH = "tls_san_mismatch"
    TLS_CERT_EXPIRED = "tls_cert_expired"
    TLS_CLIENT_CERT_REJECTED = "tls_client_cert_rejected"
    PLAINTEXT_CLIENT_REJECTED = "plaintext_client_rejected"
    TLS_HANDSHAKE_FAILED = "tls_handshake_failed"
    UPSTREAM_CONNECTION_REFUSED = "upstream_connection_refused"
    UPSTREAM_CONNECT_TIMEOUT = "upstream_connect_timeout"
    UPSTREAM_RESET = "upstream_reset"
    UPSTREAM_PROTOCOL_ERROR = "upstream_protocol_error"
    NO_HEALTHY_UPSTREAM = "no_healthy_upstream"
    UPSTREAM_REQUEST_TIMEOUT = "upstream_request_timeout"
    PROBE_TIMEOUT = "probe_timeout"
    NO_ROUTE = "no_route"
    BLACKHOLE = "blackhole"
    DNS_FAILURE = "dns_failure"
    RBAC_DENIED = "rbac_denied"
    CIRCUIT_BREAKER_OVERFLOW = "circuit_breaker_overflow"
    APP_ERROR = "app_error"
    UNEXPECTED_STATUS = "unexpected_status"
    PROBE_FAILED = "probe_failed"


VERDICT_CATEGORY: dict[Verdict, Category] = {
    Verdict.OK: Category.OK,
    Verdict.MTLS_PLAINTEXT_TO_STRICT: Category.TLS,
    Verdict.MTLS_TO_PLAINTEXT_SERVER: Category.TLS,
    Verdict.TLS_CERT_UNTRUSTED: Category.TLS,
    Verdict.TLS_SAN_MISMATCH: Category.TLS,
    Verdict.TLS_CERT_EXPIRED: Category.TLS,
    Verdict.TLS_CLIENT_CERT_REJECTED: Category.TLS,
    Verdict.PLAINTEXT_CLIENT_REJECTED: Category.TLS,
    Verdict.TLS_HANDSHAKE_FAILED: Category.TLS,
    Verdict.UPSTREAM_CONNECTION_REFUSED: Category.CONNECTIVITY,
    Verdict.UPSTREAM_CONNECT_TIMEOUT: Category.CONNECTIVITY,
    Verdict.UPSTREAM_RESET: Category.CONNECTIVITY,
    Verdict.UPSTREAM_PROTOCOL_ERROR: Category.CONNECTIVITY,
    Verdict.NO_HEALTHY_UPSTREAM: Category.CONNECTIVITY,
    Verdict.UPSTREAM_REQUEST_TIMEOUT: Category.CONNECTIVITY,
    Verdict.PROBE_TIMEOUT: Category.CONNECTIVITY,
    Verdict.NO_ROUTE: Category.ROUTING,
    Verdict.BLACKHOLE: Category.ROUTING,
    Verdict.DNS_FAILURE: Category.DNS,
    Verdict.RBAC_DENIED: Category.POLICY,
    Verdict.CIRCUIT_BREAKER_OVERFLOW: Category.OVERLOAD,
    Verdict.APP_ERROR: Category.APPLICATION,
    Verdict.UNEXPECTED_STATUS: Category.APPLICATION,
    Verdict.PROBE_FAILED: Category.PROBE,
}


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Remedy:
    """A suggested fix: prose, plus the full fixed resource as YAML when one resource fixes it."""

    text: str
    patch: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "patch": self.patch}


@dataclass(frozen=True)
class Diagnosis:
    """The outcome of one probe, in the stable shape of DESIGN.md's Diagnosis JSON.

    Unknown values are None (JSON null), never guessed.
    """

    verdict: Verdict
    confidence: Confidence
    summary: str
    http_status: int | None = None
    response_flags: str | None = None
    curl_exit: int | None = None
    client_tls_mode: str | None = None
    server_mtls_mode: str | None = None
    destination_rule: str | None = None
    peer_authentication: str | None = None
    evidence: tuple[str, ...] = field(default_factory=tuple)
    remedy: Remedy | None = None

    @property
    def category(self) -> Category:
        return VERDICT_CATEGORY[self.verdict]

    @property
    def healthy(self) -> bool:
        return self.verdict is Verdict.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "verdict": self.verdict.value,
            "confidence": self.confidence.value,
            "summary": self.summary,
            "http_status": self.http_status,
            "response_flags": self.response_flags,
            "curl_exit": self.curl_exit,
            "client_tls_mode": self.client_tls_mode,
            "server_mtls_mode": self.server_mtls_mode,
            "destination_rule": self.destination_rule,
            "peer_authentication": self.peer_authentication,
            "evidence": list(self.evidence),
            "remedy": self.remedy.to_json() if self.remedy else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        remedy = data.get("remedy")
        return cls(
            verdict=Verdict(data["verdict"]),
            confidence=Confidence(data["confidence"]),
            summary=str(data.get("summary", "")),
            http_status=data.get("http_status"),
            response_flags=data.get("response_flags"),
            curl_exit=data.get("curl_exit"),
            client_tls_mode=data.get("client_tls_mode"),
            server_mtls_mode=data.get("server_mtls_mode"),
            destination_rule=data.get("destination_rule"),
            peer_authentication=data.get("peer_authentication"),
            evidence=tuple(data.get("evidence") or ()),
            remedy=Remedy(remedy["text"], remedy.get("patch")) if remedy else None,
        )
