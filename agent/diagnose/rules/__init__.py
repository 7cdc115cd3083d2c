"""Cross-check rules, one per module, applied in order after the ladder's raw finding. Pure, no I/O.

Each rule is `(DiagnoseInput, Signals, Finding) -> Finding`: it may sharpen a hedged verdict with
independent evidence (config dump, policy, stats) or soften one the evidence contradicts.
`FINAL_RULES` run on the finished Diagnosis, for what rewrites its remedy too (proxy drift) or
replaces it (a status the path accepts).
"""

from __future__ import annotations

from collections.abc import Callable

from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.rules import (
    accepted_status,
    cert_expiry,
    drift,
    evidence_gaps,
    logging_hint,
    mtls_crosscheck,
    repeatability,
    sidecar_health,
    stats_crosscheck,
)
from agent.diagnose.signals import Signals
from agent.model import Diagnosis

Rule = Callable[[DiagnoseInput, Signals, Finding], Finding]
FinalRule = Callable[[DiagnoseInput, Diagnosis], Diagnosis]

RULES: tuple[Rule, ...] = (
    mtls_crosscheck.apply,  # config + policy first: they name the DestinationRule
    stats_crosscheck.apply,
    cert_expiry.apply,  # after stats: a rejected certificate may be rejected for being expired
    repeatability.apply,
    sidecar_health.apply,  # before blaming the app: was the server's istio-proxy down (or restarting)?
    evidence_gaps.apply,  # last: logging off and a partial view are said whatever the verdict
)

FINAL_RULES: tuple[FinalRule, ...] = (
    accepted_status.apply,
    drift.apply,  # after: a healthy diagnosis has no drift to report
    logging_hint.apply,  # last: adds to whatever remedy stands
)
