"""A status the path lists as expected is healthy, even when it is not the first one it lists.

Pure, no I/O. The ladder compares with the first expected status only; a path that declares
`expect: [200, 404]` and gets the application's 404 is fine. Only application-level verdicts are
turned around: a 503 UC stays an mTLS verdict whatever the path accepts.
"""

from __future__ import annotations

from agent.diagnose.inputs import DiagnoseInput
from agent.model import Confidence, Diagnosis, Verdict

_APP_LEVEL = frozenset({Verdict.UNEXPECTED_STATUS, Verdict.APP_ERROR})


def apply(inp: DiagnoseInput, diagnosis: Diagnosis) -> Diagnosis:
    status = inp.curl.http_status
    if diagnosis.healthy or status not in inp.accepted_statuses or diagnosis.verdict not in _APP_LEVEL:
        return diagnosis
    return Diagnosis(Verdict.OK, Confidence.HIGH, f"Got the expected HTTP {status}.")
