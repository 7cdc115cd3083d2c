"""Proxy drift: does the sidecar's live cluster agree with what the policy engine resolves now?

A cross-check rule applied to the finished diagnosis (it rewrites the remedy), wherever the
classifier runs: the live agent and `meshprober diagnose` alike. Pure. When the DestinationRule named in the client cluster's metadata, or its TLS origination,
differs from the engine's view of the live resources, the sidecar has not received the current
config (or something else configures it); the diagnosis says so instead of guessing.
No I/O here.
"""

from __future__ import annotations

from dataclasses import replace

from agent.diagnose.inputs import DiagnoseInput
from agent.evidence import ClusterInfo, PolicyView, TlsOrigination
from agent.model import Confidence, Diagnosis, Remedy

# What each explicit origination means as a client mode. AUTO is not here: it agrees only with a
# policy that leaves the mode to auto mTLS too, whatever mode that resolves to.
_MODES: dict[TlsOrigination, frozenset[str]] = {
    TlsOrigination.ISTIO_MUTUAL: frozenset({"ISTIO_MUTUAL"}),
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
    allowed = _MODES.get(cluster.tls)  # None for AUTO and UNKNOWN
    if cluster.tls is TlsOrigination.AUTO and policy.client_mode_source != "auto":
        problems.append(
            f"the sidecar uses auto mTLS for {cluster.name}, but the current resources set {policy.client_mode}"
        )
    elif allowed is not None and policy.client_mode not in allowed:
        problems.append(
            f"the sidecar originates {cluster.tls.value} for {cluster.name}, "
            f"but the current resources resolve {policy.client_mode}"
        )
    if not problems:
        return None
    return "config mismatch: " + "; ".join(problems) + " (this sidecar has not received the current config)"


SYNC_REMEDY = (
    "The current resources already differ from what this sidecar runs: get the current config to it. "
    "Check its xDS connection to istiod (`istioctl proxy-status`: STALE or NOT SENT), then restart "
    "the pod if it stays stale. No resource change is needed for this mismatch."
)


def with_drift(diagnosis: Diagnosis, cluster: ClusterInfo | None, policy: PolicyView | None) -> Diagnosis:
    """A failing diagnosis, led by the config mismatch when the sidecar is stale (unchanged otherwise).

    What the sidecar does is still described, but as the effect of its stale config, not as the
    cause in the current resources; confidence drops to medium. The remedy becomes "sync the
    sidecar" unless the current resources conflict too (then their fix stays, with the sync note).
    """
    drift = proxy_drift(cluster, policy)
    if drift is None or diagnosis.healthy:
        return diagnosis
    confidence = Confidence.MEDIUM if diagnosis.confidence is Confidence.HIGH else diagnosis.confidence
    summary = f"{drift[0].upper()}{drift[1:]}. With that stale config: {diagnosis.summary}"
    if policy is not None and policy.status == "CONFLICT" and diagnosis.remedy is not None:
        remedy = replace(
            diagnosis.remedy, text=f"{diagnosis.remedy.text} Then make sure this sidecar receives it."
        )
    else:
        remedy = Remedy(SYNC_REMEDY)
    return replace(
        diagnosis,
        confidence=confidence,
        summary=summary,
        evidence=(*diagnosis.evidence, drift),
        remedy=remedy,
    )


def apply(inp: DiagnoseInput, diagnosis: Diagnosis) -> Diagnosis:
    """The rule's entry: drift between the client sidecar's cluster and the policy in force."""
    return with_drift(diagnosis, inp.client_cluster, inp.policy)
