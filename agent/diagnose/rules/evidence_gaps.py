"""Say what the evidence could not show: access logging off, a partial view of the control plane.

Pure, no I/O. A sidecar whose access logging is off (meshConfig + Telemetry, decided by
agent.istio.access_logging) writes no line for any request, so its missing line proves nothing:
the diagnosis says so instead of reading silence as evidence. When control-plane objects could
not be read (403/404 on the mesh ConfigMap, Telemetry, ...), a verdict that rests on the policy
view drops to low confidence and names what was missing.
"""

from __future__ import annotations

from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.signals import Signals
from agent.model import Confidence, Verdict

# Verdicts whose proof includes the policy engine's view (server mode, client mode, DR).
_POLICY_VERDICTS = frozenset(
    {
        Verdict.MTLS_PLAINTEXT_TO_STRICT,
        Verdict.MTLS_TO_PLAINTEXT_SERVER,
        Verdict.TLS_CLIENT_CERT_REJECTED,
        Verdict.PLAINTEXT_CLIENT_REJECTED,
    }
)


def logging_lines(inp: DiagnoseInput) -> list[str]:
    off = [
        f"access logging is off for this workload ({side} sidecar: {why}); no {side} log line was read "
        "and its absence is not evidence"
        for side, why in sorted(inp.logging_off.items())
    ]
    unknown = [
        f"whether the {side} sidecar logs is unknown ({why}); a missing {side} log line is not evidence"
        for side, why in sorted(inp.logging_unknown.items())
    ]
    return off + unknown


def apply(inp: DiagnoseInput, sig: Signals, f: Finding) -> Finding:
    if f.verdict is Verdict.OK:
        return f
    lines = logging_lines(inp)
    if inp.view_gaps and inp.policy is not None and f.verdict in _POLICY_VERDICTS:
        lines += [f"partial view of the control plane: {gap}" for gap in inp.view_gaps]
        if f.confidence is not Confidence.LOW:
            lines.append(
                "confidence lowered: the policy view this verdict rests on may use the wrong mesh settings"
            )
            return f.but(confidence=Confidence.LOW, add=lines)
    elif inp.view_gaps:
        lines += [f"partial view of the control plane: {gap}" for gap in inp.view_gaps]
    return f.but(add=lines) if lines else f
