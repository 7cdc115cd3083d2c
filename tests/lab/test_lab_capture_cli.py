"""`python -m tools.golden_capture.capture` rejects bad input with a message naming the flag (no Envoy needed)."""

from __future__ import annotations

import pytest

from tools.golden_capture import capture


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--out", "/tmp/meshprober-unused", "--only", "bogus"], "--only: unknown scenario", id="bad-only"
        ),
        pytest.param(["--out", "/proc/meshprober/nope"], "--out /proc/meshprober/nope", id="bad-out"),
    ],
)
def test_capture_cli_bad_input(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert capture.main(argv) == 2
    assert message in capsys.readouterr().err
