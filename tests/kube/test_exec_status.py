"""Exit codes from the exec channel-3 Status JSON."""

from __future__ import annotations

import pytest

from agent.kube.exec_status import ExecStatus, parse_exec_status

NONZERO = (
    b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: command '
    b'terminated with exit code 7","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}'
)
INTERNAL_MISSING = (
    b'{"metadata":{},"status":"Failure","message":"Internal error occurred: error executing command in container: '
    b'failed to exec in container: exec: \\"curl\\": executable file not found in $PATH: unknown",'
    b'"reason":"InternalError","details":{"causes":[{"message":"error executing command"}]},"code":500}'
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b'{"metadata":{},"status":"Success"}', ExecStatus(exit_code=0), id="success-healthy"),
        pytest.param(NONZERO, ExecStatus(exit_code=7), id="exit-7"),
        pytest.param(
            b'{"status":"Failure","details":{"causes":[{"reason":"Other","message":"x"},'
            b'{"reason":"ExitCode","message":"28"}]}}',
            ExecStatus(exit_code=28),
            id="exit-cause-not-first",
        ),
        pytest.param(INTERNAL_MISSING, None, id="internal-command-missing"),
        pytest.param(b"not json", None, id="garbage"),
        pytest.param(
            b'{"status":"Failure","details":{"causes":[{"reason":"ExitCode","message":"x"}]}}',
            None,
            id="bad-code",
        ),
    ],
)
def test_parse_exec_status(raw: bytes, expected: ExecStatus | None) -> None:
    got = parse_exec_status(raw)
    if expected is not None:
        assert got == expected
    else:
        assert got.exit_code is None and got.error


def test_internal_error_flags_missing_command() -> None:
    got = parse_exec_status(INTERNAL_MISSING)
    assert got.command_missing and "executable file not found" in got.error
