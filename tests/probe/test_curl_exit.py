"""The curl exit-code catalog covers every code the classifier must reason about."""

from __future__ import annotations

import pytest

from agent.probe.curl_exit import CURL_EXIT_CODES, describe_exit

REQUIRED = [1, 2, 3, 5, 6, 7, 8, 16, 18, 22, 23, 26, 27, 28, 33, 35, 47, 52, 55, 56, 58, 59, 60, 61, 77]
REQUIRED += [80, 83, 90, 91, 92, 95, 96, 97, 98, 99, 126, 127]


@pytest.mark.parametrize("code", [0, *REQUIRED], ids=lambda c: f"exit-{c}")
def test_code_is_cataloged(code: int) -> None:
    entry = CURL_EXIT_CODES[code]
    assert entry.code == code
    assert entry.name.startswith(("CURLE_", "SHELL_")) and entry.meaning


@pytest.mark.parametrize(
    ("code", "text"),
    [
        pytest.param(0, "0 CURLE_OK", id="healthy"),
        pytest.param(7, "7 CURLE_COULDNT_CONNECT", id="refused"),
        pytest.param(28, "28 CURLE_OPERATION_TIMEDOUT", id="timeout"),
        pytest.param(127, "127 SHELL_COMMAND_NOT_FOUND", id="no-curl"),
        pytest.param(250, "250: unknown exit code", id="unknown"),
        pytest.param(None, "no exit code", id="none"),
    ],
)
def test_describe_exit(code: int | None, text: str) -> None:
    assert describe_exit(code).startswith(text)


def test_names_are_unique() -> None:
    names = [e.name for e in CURL_EXIT_CODES.values()]
    assert len(names) == len(set(names))
