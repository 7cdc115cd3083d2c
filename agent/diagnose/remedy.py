"""Remedy wording per verdict, and the final assembly of a Finding into `agent.model.Diagnosis`.

Pure, no I/O. For mTLS verdicts with Istio resources present, the policy engine's own remedy
(`PolicyView.remedy_text` / `remedy_patch`: the fixed resource, e.g. the DestinationRule with
tls ISTIO_MUTUAL and its other settings such as LEAST_CONN kept) is preferred over generic prose.
"""

from __future__ import annotations

from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.rules import sidecar_health
from agent.diagnose.signals import Signals
from agent.evidence import TlsOrigination
from agent.model import Diagnosis, Remedy, Verdict

REMEDY_TEXT: dict[Verdict, str] = {
    Verdict.MTLS_PLAINTEXT_TO_STRICT: (
        "Make the client originate Istio mTLS: set `trafficPolicy.tls.mode: ISTIO_MUTUAL` in the DestinationRule "
        "that applies to this host (or remove its `tls` block so auto mTLS applies), or relax the server's "
        "PeerAuthentication to PERMISSIVE while migrating."
    ),
    Verdict.MTLS_TO_PLAINTEXT_SERVER: (
        "The server does not accept mTLS (no sidecar, or PeerAuthentication DISABLE): inject a sidecar into the "
        "server, set its PeerAuthentication to PERMISSIVE/STRICT, or set the DestinationRule `tls.mode: DISABLE` "
        "for this host."
    ),
    Verdict.TLS_CERT_UNTRUSTED: (
        "The server certificate is not signed by the root the client trusts: check both workloads use the same "
        "mesh CA / trust domain (istiod root cert, `caCertificates` in a SIMPLE/MUTUAL DestinationRule)."
    ),
    Verdict.TLS_SAN_MISMATCH: (
        "The server's identity differs from what the client expects: check the server pod's service account, "
        "the DestinationRule `subjectAltNames`/`sni`, and the Service's endpoints."
    ),
    Verdict.TLS_CERT_EXPIRED: (
        "A certificate is expired or not yet valid: check clock skew and certificate rotation (istiod/CA health, "
        "`istioctl proxy-config secret`)."
    ),
    Verdict.TLS_CLIENT_CERT_REJECTED: (
        "The server requires an Istio client certificate: use `tls.mode: ISTIO_MUTUAL` (not SIMPLE) in the "
        "DestinationRule, or supply a client certificate the server trusts."
    ),
    Verdict.PLAINTEXT_CLIENT_REJECTED: (
        "The client has no sidecar but the server is STRICT: inject a sidecar into the client, or set the "
        "server's PeerAuthentication to PERMISSIVE for this port."
    ),
    Verdict.TLS_HANDSHAKE_FAILED: (
        "Compare the client's DestinationRule TLS mode with the server's PeerAuthentication "
        "(`meshprober tls-check`), and re-run with the client config dump and Istio resources in the bundle."
    ),
    Verdict.UPSTREAM_CONNECTION_REFUSED: (
        "Nothing accepts connections on the target port: check the app listens on the Service's targetPort "
        "(and on 0.0.0.0/localhost as the Istio version requires) and the pod is running."
    ),
    Verdict.UPSTREAM_CONNECT_TIMEOUT: "Check NetworkPolicies, the endpoint's health and the cluster's connectTimeout.",
    Verdict.UPSTREAM_RESET: "The app closed the connection: check its logs, keep-alive/idle timeouts and crashes.",
    Verdict.UPSTREAM_PROTOCOL_ERROR: "Fix the Service port's protocol (name/appProtocol) to match what the app speaks.",
    Verdict.NO_HEALTHY_UPSTREAM: "The service has no ready endpoints: check the pods' readiness and outlier detection.",
    Verdict.UPSTREAM_REQUEST_TIMEOUT: "The app is slower than the route timeout: raise the VirtualService timeout or speed it up.",
    Verdict.PROBE_TIMEOUT: "Nothing answered within the probe deadline: check the path end to end or raise the timeout.",
    Verdict.NO_ROUTE: "Check the host/port exist as a Service or ServiceEntry visible to the client (Sidecar egress hosts).",
    Verdict.BLACKHOLE: "outboundTrafficPolicy is REGISTRY_ONLY: add a ServiceEntry for this host.",
    Verdict.DNS_FAILURE: "Check the host name, the Service exists, and DNS (CoreDNS / Istio DNS proxying).",
    Verdict.RBAC_DENIED: "An AuthorizationPolicy denies this caller: review the policies on the server workload.",
    Verdict.CIRCUIT_BREAKER_OVERFLOW: "Raise the DestinationRule connectionPool limits or reduce concurrency.",
    Verdict.APP_ERROR: "The application returned an error: check its logs.",
    Verdict.UNEXPECTED_STATUS: "Check the expected status of this probe and the app's behaviour.",
    Verdict.PROBE_FAILED: "Fix the agent side: the pod, the exec permission, or curl in the container.",
}

_POLICY_REMEDY = {
    Verdict.MTLS_PLAINTEXT_TO_STRICT,
    Verdict.MTLS_TO_PLAINTEXT_SERVER,
    Verdict.TLS_CLIENT_CERT_REJECTED,
    Verdict.PLAINTEXT_CLIENT_REJECTED,
    Verdict.TLS_HANDSHAKE_FAILED,
}


def remedy_for(inp: DiagnoseInput, verdict: Verdict) -> Remedy | None:
    if verdict is Verdict.OK:
        return None
    if sidecar_health.applies(inp, verdict):
        return Remedy(sidecar_health.remedy_text(inp))
    p = inp.policy
    if verdict in _POLICY_REMEDY and p is not None and p.remedy_text:
        return Remedy(p.remedy_text, p.remedy_patch)
    return Remedy(REMEDY_TEXT[verdict])


def to_diagnosis(inp: DiagnoseInput, sig: Signals, f: Finding) -> Diagnosis:
    cl, p = inp.client_cluster, inp.policy
    client_mode: str | None = None
    if p is not None:
        client_mode = p.client_mode
    elif cl is not None and cl.tls not in (TlsOrigination.UNKNOWN, TlsOrigination.AUTO):
        client_mode = cl.tls.value  # AUTO alone does not say what was sent to this endpoint
    return Diagnosis(
        verdict=f.verdict,
        confidence=f.confidence,
        summary=f.summary,
        http_status=sig.status,
        response_flags=",".join(sig.flags) if sig.flags else None,
        curl_exit=inp.curl.exit_code,
        client_tls_mode=client_mode,
        server_mtls_mode=p.server_mode if p is not None else None,
        destination_rule=(cl.destination_rule if cl else None) or (p.destination_rule if p else None),
        peer_authentication=p.peer_authentication if p else None,
        evidence=f.evidence,
        remedy=remedy_for(inp, f.verdict),
    )
