"""Diagnosis: the classifier ladder, cross-check rules and remedies (pure, no I/O).

Public API: `classify(DiagnoseInput) -> agent.model.Diagnosis`. Modules: catalog (flag / curl exit
tables), signals (who answered, reasons), curl_rungs + ladder + transport (the ordered ladder),
tls_reason (TLS failure texts), rules/ (cross-checks, one per module), remedy (wording, assembly).
"""

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify

__all__ = ["DiagnoseInput", "classify"]
