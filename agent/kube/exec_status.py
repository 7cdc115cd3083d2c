"""Parse the exec channel-3 Status JSON into an exit code (pure; no I/O, no kubernetes import).

The real API server writes `{"metadata":{},"status":"Success"}` or a NonZeroExitCode Status whose
`details.causes` carry `{"reason":"ExitCode","message":"7"}`; an InternalError Status means the
command never ran (e.g. `executable file not found in $PATH`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Runtime messages for a missing binary (containerd/cri-o/docker wording differs slightly).
_NOT_FOUND_HINTS = ("executable file not found", "no such file or directory", "not found in $path")


@dataclass(frozen=True)
class ExecStatus:
    """Outcome reported on channel 3: exit_code when the command ran, else an error message."""

    exit_code: int | None
    error: str = ""
    command_missing: bool = False


def parse_exec_status(raw: bytes) -> ExecStatus:
    """Exit code from the Status JSON; never raises on odd bodies (they become `error`)."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return ExecStatus(exit_code=None, error=f"unreadable exec status: {text[:200]!r}")
    if not isinstance(doc, dict):
        return ExecStatus(exit_code=None, error=f"unreadable exec status: {text[:200]!r}")
    if doc.get("status") == "Success":
        return ExecStatus(exit_code=0)
    details = doc.get("details") if isinstance(doc.get("details"), dict) else {}
    causes = details.get("causes") if isinstance(details, dict) else None
    # Look for the ExitCode cause anywhere, not only first (the Python client's own parser assumes first).
    for cause in causes if isinstance(causes, list) else []:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return ExecStatus(exit_code=int(str(cause.get("message", "")).strip()))
            except ValueError:
                break
    message = str(doc.get("message") or doc.get("reason") or text[:200])
    missing = any(hint in message.lower() for hint in _NOT_FOUND_HINTS)
    return ExecStatus(exit_code=None, error=message, command_missing=missing)
