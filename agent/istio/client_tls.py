"""What TLS a client sidecar originates to a service port (buildUpstreamTLSSettings + EDS marking).

An explicit DR tls mode wins; otherwise auto mTLS (enabled, not mesh-external, service namespace
mode not DISABLE) sends ISTIO_MUTUAL to endpoints marked tlsMode=istio and plaintext to the rest;
otherwise plaintext. Keeps Istio's real gaps (see verdict/README). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClientTlsDecision:
    """The client side of one (client, service port[, subset]) as the sidecar would render it."""

    mode: str  # ISTIO_MUTUAL | DISABLE | SIMPLE | MUTUAL (auto: ISTIO_MUTUAL to marked endpoints)
    source: str  # destination_rule | auto | default
    auto: bool  # rendered as transport_socket_matches
    destination_rule: str | None = None  # "ns/name"
    destination_rule_api_version: str | None = None
    tls_from: str = "none"  # top | port | subset | subset-port | none
    sni: str | None = None
    subject_alt_names: tuple[str, ...] = ()
    traffic_policy: Mapping[str, Any] = field(default_factory=dict)
    explanation: str = ""
    _endpoint_tls: Callable[[Any], str | None] = field(default=lambda pod: None, repr=False)

    def endpoint_tls(self, pod: Any) -> str | None:
        """ "istio" when this endpoint gets the tlsMode-istio EDS metadata (auto mTLS), else None."""
        return self._endpoint_tls(pod)

    def sends_to(self, marked: bool) -> str:
        """The mode actually used toward one endpoint."""
        if self.auto:
            return "ISTIO_MUTUAL" if marked else "DISABLE"
        return self.mode


def default_sni(port: int, subset: str | None, fqdn: str) -> str:
    return f"outbound_.{port}_.{subset or ''}_.{fqdn}"


def spiffe_id(namespace: str, service_account: str, trust_domain: str = "cluster.local") -> str:
    """The SPIFFE identity Istio gives a workload (and the SAN an ISTIO_MUTUAL client expects)."""
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def decide(
    *,
    tls: Mapping[str, Any] | None,
    auto_enabled: bool,
    mesh_external: bool,
    service_mtls_mode: str,
) -> tuple[str, str, bool, str]:
    """(mode, source, auto, why) from the resolved tls settings (buildUpstreamTLSSettings)."""
    if tls is not None:
        mode = str(tls.get("mode") or "DISABLE")
        return mode, "destination_rule", False, f"the DestinationRule sets tls.mode {mode}"
    if not auto_enabled:
        return "DISABLE", "default", False, "no DR tls and auto mTLS is off: plaintext"
    if mesh_external:
        return "DISABLE", "auto", False, "auto mTLS does not apply to mesh-external services: plaintext"
    if service_mtls_mode == "DISABLE":
        return (
            "DISABLE",
            "auto",
            False,
            "auto mTLS sees the service namespace's PeerAuthentication mode DISABLE: plaintext "
            "(workload-level PeerAuthentications are not consulted here)",
        )
    return (
        "ISTIO_MUTUAL",
        "auto",
        True,
        "no DR tls: auto mTLS sends ISTIO_MUTUAL to endpoints with a sidecar whose mode is not "
        "DISABLE, plaintext to the rest",
    )
