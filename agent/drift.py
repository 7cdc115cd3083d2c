"""Proxy drift: does the sidecar's live cluster agree with what the policy engine resolves now?

Pure. When the DestinationRule named in the client cluster's metadata, or its TLS origination,
differs from the engine's view of the live resources, the sidecar has not received the current
config (or something else configures it); the diagnosis says so instead of guessing.
"""

from __future__ import annotations

from agent.evidence import ClusterInfo, PolicyView, TlsOrigination

# What each origination means as a client mode; AUTO depends on the endpoint, so either fits.
_MODES: dict[TlsOrigination, frozenset[str]] = {
    TlsOrigination.ISTIO_MUTUAL: frozenset({"ISTIO_MUTUAL"}),
    TlsOrigination.AUTO: frozenset({"ISTIO_MUTUAL", "DISABLE"}),
    TlsOrigination.PLAINTEXT: frozenset({"DISABLE"}),
    TlsOrigination.SIMPLE: frozenset({"SIMPLE"}),
    TlsOrigination.MUTUAL: frozenset({"MUTUAL"}),
}


def proxy_drift(cluster: ClusterInfo | None, policy: PolicyView | None) -> str | None:
    """A sentence describing the mismatch, or None when they agree or one side is unknown."""
    if cluster is None or policy is None:
        return None
    problems: list[str] = []
    if (cluster.destination_rule or None) != (policy.destination_rule or None):
        problems.append(
            f"the sidecar's cluster {cluster.name} names DestinationRule {cluster.destination_rule or 'none'}, "
            f"but the current resources resolve {policy.destination_rule or 'none'}"
        )
    expected_auto = policy.client_mode_source == "auto"
    allowed = _MODES.get(cluster.tls)
    if allowed is not None:
        if cluster.tls is TlsOrigination.AUTO and not expected_auto:
            problems.append(
                f"the sidecar uses auto mTLS for {cluster.name}, but the current resources set {policy.client_mode}"
            )
        elif cluster.tls is not TlsOrigination.AUTO and policy.client_mode not in allowed:
            problems.append(
                f"the sidecar originates {cluster.tls.value} for {cluster.name}, "
                f"but the current resources resolve {policy.client_mode}"
            )
    if not problems:
        return None
    return "config mismatch: " + "; ".join(problems) + " (this sidecar has not received the current config)"
