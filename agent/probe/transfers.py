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


def _write_outs(stdout: str) -> list[tuple[int, dict[str, object]]]:
    """(end, decoded object) of every write-out in stdout, in order, up to the first broken one."""
    found: list[tuple[int, dict[str, object]]] = []
    decoder = json.JSONDecoder()
    at = stdout.find(WRITE_OUT_MARKER)
    while at >= 0:
        try:
            obj, end = decoder.raw_decode(stdout, at + len(WRITE_OUT_MARKER))
        except ValueError:
            return found
        if not isinstance(obj, dict):
            return found
        found.append((end, obj))
        at = stdout.find(WRITE_OUT_MARKER, end)
    return found


def _exit_code(write_out: dict[str, object], stderr_share: str) -> int:
    code = write_out.get("exitcode")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    errors = _ERROR_CODE.findall(stderr_share)
    return int(errors[-1]) if errors else 0


def split_transfers(stdout: str, stderr: str, exit_code: int | None) -> list[Transfer]:
    """One Transfer per complete write-out that has its stderr share (see module docstring)."""
    write_outs = _write_outs(stdout)
    # Each complete stderr share ends with the marker line; what follows the last one is cut short.
    shares = stderr.split(TRANSFER_END_MARKER + "\n")[:-1]
    out: list[Transfer] = []
    begin = 0
    for i, ((end, obj), share) in enumerate(zip(write_outs, shares, strict=False)):
        code = _exit_code(obj, share)
        if i == len(write_outs) - 1 and code == 0 and exit_code is not None and exit_code != 0:
            # The process exit code is the last transfer's: a failure its write-out did not see.
            code = exit_code
        out.append(Transfer(stdout[begin:end], share, code))
        begin = end
    return out
