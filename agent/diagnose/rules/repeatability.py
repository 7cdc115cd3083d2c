"""Cross-check: an mTLS mismatch is deterministic; a failure that did not repeat is not one.

Pure, no I/O. Intermittent "connection termination" is usually connection reuse racing an idle
timeout (istio/istio#45802), so with `repeatable=False` mTLS/TLS verdicts drop to upstream_reset
with low confidence; with `repeatable=True` a hedged TLS verdict gains a little confidence.
"""

from __future__ import annotations

from agent.diagnose.finding import Finding, lower, raise_
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.signals import Signals
from agent.model import VERDICT_CATEGORY, Category, Confidence, Verdict

AGAIN = "a second probe failed the same way (repeatable)"
NOT_AGAIN = "a second probe did not fail the same way: the failure is intermittent"


def apply(inp: DiagnoseInput, sig: Signals, f: Finding) -> Finding:
    if inp.repeatable is None or f.verdict is Verdict.OK:
        return f
    if inp.repeatable is False:
        if f.verdict in (Verdict.MTLS_PLAINTEXT_TO_STRICT, Verdict.TLS_HANDSHAKE_FAILED) and not sig.relayed:
            return f.but(
                verdict=Verdict.UPSTREAM_RESET,
                confidence=Confidence.LOW,
                summary="Intermittent connection termination: usually connection reuse or idle timeouts, "
                "not an mTLS mismatch (which fails every time).",
                add=[NOT_AGAIN],
                hedged=True,
            )
        return f.but(confidence=lower(f.confidence), add=[NOT_AGAIN])
    if f.hedged and VERDICT_CATEGORY[f.verdict] is Category.TLS:
        return f.but(confidence=raise_(f.confidence), add=[AGAIN])
    return f.but(add=[AGAIN])
