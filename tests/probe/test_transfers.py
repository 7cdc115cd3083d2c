"""split_transfers: one curl run of two transfers cut into two single-transfer shares (table-driven)."""

from __future__ import annotations

import json

import pytest

from agent.probe.argv import TRANSFER_END_MARKER as END
from agent.probe.argv import WRITE_OUT_MARKER as WO
from agent.probe.transfers import Transfer, split_transfers


def _wo(**fields: object) -> str:
    return "\n" + WO + json.dumps(fields)


OK = _wo(http_code=200, exitcode=0)
REFUSED = _wo(http_code=0, exitcode=7, errormsg="Failed to connect")
TRACE = "* Connected to x (10.0.0.1) port 80\n< HTTP/1.1 200 OK\n"
ERR7 = "* connect failed\ncurl: (7) Failed to connect\n"

CASES = [
    pytest.param(
        "body1" + OK + "body2" + OK,
        TRACE + END + "\n" + TRACE + END + "\n",
        0,
        [Transfer("body1" + OK, TRACE, 0), Transfer("body2" + OK, TRACE, 0)],
        id="healthy-both-200-no-finding",
    ),
    pytest.param(
        REFUSED + REFUSED,
        ERR7 + END + "\n" + ERR7 + END + "\n",
        7,
        [Transfer(REFUSED, ERR7, 7), Transfer(REFUSED, ERR7, 7)],
        id="both-refused",
    ),
    pytest.param(
        REFUSED + "b" + OK,
        ERR7 + END + "\n" + TRACE + END + "\n",
        0,
        [Transfer(REFUSED, ERR7, 7), Transfer("b" + OK, TRACE, 0)],
        id="first-fails-second-ok-process-exit-is-the-last",
    ),
    pytest.param(
        "a" + _wo(http_code=0) + "b" + _wo(http_code=0),
        "curl: (56) Recv failure\n" + END + "\n" + "curl: (52) Empty reply\n" + END + "\n",
        52,
        [
            Transfer("a" + _wo(http_code=0), "curl: (56) Recv failure\n", 56),
            Transfer("b" + _wo(http_code=0), "curl: (52) Empty reply\n", 52),
        ],
        id="old-curl-without-exitcode-uses-error-lines",
    ),
    pytest.param("body" + OK, TRACE, 0, [], id="single-run-without-end-marker-is-not-a-pair"),
    pytest.param(
        "body" + OK + "body2" + OK,
        TRACE + END + "\n",
        0,
        [Transfer("body" + OK, TRACE, 0)],
        id="second-stderr-share-missing-gives-only-the-first",
    ),
    pytest.param(
        "body\n" + WO + "{not json",
        TRACE + END + "\n",
        0,
        [],
        id="write-out-not-json",
    ),
    pytest.param("", "", None, [], id="empty-output"),
    pytest.param(
        "x" + OK + "y" + OK,
        TRACE + END + "\n" + TRACE + END + "\n",
        137,
        [Transfer("x" + OK, TRACE, 0), Transfer("y" + OK, TRACE, 137)],
        id="killed-after-the-last-write-out-keeps-the-process-code",
    ),
]


@pytest.mark.parametrize(("stdout", "stderr", "code", "want"), CASES)
def test_split_transfers(stdout: str, stderr: str, code: int | None, want: list[Transfer]) -> None:
    assert split_transfers(stdout, stderr, code) == want
