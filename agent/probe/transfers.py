"""Cut one curl run of several transfers (agent.probe.argv.build_curl_pair_argv) into one
(stdout, stderr, exit code) per transfer, each shaped exactly like a single-transfer run, so
agent.probe.curl_output.parse_curl and the evidence bundle see no difference.

stdout holds, per transfer: body, "\\n", WRITE_OUT_MARKER, the `%{json}` object. stderr holds, per
transfer: the `-v` trace, curl's `curl: (N) ...` line when it failed, then TRANSFER_END_MARKER on a
line of its own. The process exit code is the last transfer's (curl's rule without --fail-early), so
each transfer's own code comes from its write-out `exitcode` (curl >= 7.75), else from its
`curl: (N)` line, else 0. Pure and total: output that does not have the expected shape (an older
curl, a shim that ignored --next) gives fewer transfers than asked, never an exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent.probe.argv import TRANSFER_END_MARKER, WRITE_OUT_MARKER

_ERROR_CODE = re.compile(r"^curl: \((\d{1,5})\)", re.MULTILINE)


@dataclass(frozen=True)
class Transfer:
    """One transfer's share of the run, as a single-transfer run would have printed it."""

    stdout: str
    stderr: str
    exit_code: int


def _write_outs(stdout: str) -> list[tuple[int, int]]:
    """(start of the marker, end of its JSON object) for every write-out in stdout, in order."""
    found: list[tuple[int, int]] = []
    decoder = json.JSONDecoder()
    at = stdout.find(WRITE_OUT_MARKER)
    while at >= 0:
        start = at + len(WRITE_OUT_MARKER)
        try:
            obj, end = decoder.raw_decode(stdout, start)
        except ValueError:
            return found
        if not isinstance(obj, dict):
            return found
        found.append((at, end))
        at = stdout.find(WRITE_OUT_MARKER, end)
    return found


def _stderr_parts(stderr: str) -> list[str]:
    parts = stderr.split(TRANSFER_END_MARKER + "\n")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def _exit_code(stdout_part: str, stderr_part: str) -> int:
    at = stdout_part.find(WRITE_OUT_MARKER)
    try:
        obj, _ = json.JSONDecoder().raw_decode(stdout_part, at + len(WRITE_OUT_MARKER))
    except ValueError:
        obj = {}
    code = obj.get("exitcode") if isinstance(obj, dict) else None
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    errors = _ERROR_CODE.findall(stderr_part)
    return int(errors[-1]) if errors else 0


def split_transfers(stdout: str, stderr: str, exit_code: int | None) -> list[Transfer]:
    """One Transfer per complete write-out that has its stderr share (see module docstring)."""
    spans = _write_outs(stdout)
    printed = len(spans)
    errs = _stderr_parts(stderr)
    spans = spans[: min(len(errs), stderr.count(TRANSFER_END_MARKER))]  # complete on both streams
    out: list[Transfer] = []
    begin = 0
    for i, (_, end) in enumerate(spans):
        part = stdout[begin:end]
        last = i == printed - 1  # the process exit code is the last transfer's
        code = _exit_code(part, errs[i])
        if last and code == 0 and exit_code is not None and exit_code != 0:
            code = exit_code  # a failure the write-out did not see (the run was cut short)
        out.append(Transfer(part, errs[i], code))
        begin = end
    return out
