"""When access logging was off and the verdict is not certain, the fix also shows the Telemetry
resource that turns logging on, so the next failure carries the sidecars' lines.

A final rule (on the finished Diagnosis): it adds to whatever remedy stands. Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import replace

from agent.diagnose.inputs import DiagnoseInput
from agent.istio.access_logging import enable_telemetry
from agent.model import Confidence, Diagnosis


def apply(inp: DiagnoseInput, diagnosis: Diagnosis) -> Diagnosis:
    if diagnosis.healthy or not inp.logging_off or diagnosis.confidence is Confidence.HIGH:
        return diagnosis
    if diagnosis.remedy is None:
        return diagnosis
    # logging_off values read "<namespace>/<pod>: why".
    namespaces = sorted({why.split("/", 1)[0] for why in inp.logging_off.values() if "/" in why})
    if not namespaces:
        return diagnosis
    hint = (
        "\n\nAccess logging is off for "
        + ", ".join(namespaces)
        + "; to record the sidecars' lines next time:\n"
    )
    hint += "---\n".join(enable_telemetry(n) for n in namespaces)
    return replace(diagnosis, remedy=replace(diagnosis.remedy, text=diagnosis.remedy.text + hint))
