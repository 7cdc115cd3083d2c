"""A classifier finding under construction: verdict, confidence, why, and the facts that prove it.

Pure data, no I/O. The ladder produces one; cross-check rules (rules/) refine it with
`dataclasses.replace`; `remedy.to_diagnosis` turns it into the public `agent.model.Diagnosis`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from agent.model import Confidence, Verdict


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    confidence: Confidence
    summary: str
    evidence: tuple[str, ...] = field(default_factory=tuple)
    # True when the verdict is only a best guess the cross-checks may replace.
    hedged: bool = False

    def but(
        self,
        verdict: Verdict | None = None,
        confidence: Confidence | None = None,
        summary: str | None = None,
        add: tuple[str, ...] | list[str] = (),
        hedged: bool | None = None,
    ) -> Finding:
        """A copy with some fields changed and evidence lines appended (duplicates dropped)."""
        ev = self.evidence + tuple(a for a in add if a not in self.evidence)
        return replace(
            self,
            verdict=verdict or self.verdict,
            confidence=confidence or self.confidence,
            summary=summary if summary is not None else self.summary,
            evidence=ev,
            hedged=self.hedged if hedged is None else hedged,
        )


def lower(c: Confidence) -> Confidence:
    return {Confidence.HIGH: Confidence.MEDIUM}.get(c, Confidence.LOW)


def raise_(c: Confidence) -> Confidence:
    return {Confidence.LOW: Confidence.MEDIUM}.get(c, Confidence.HIGH)
