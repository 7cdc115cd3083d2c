"""parse_local_reply on real Envoy bodies (fixtures, Envoy 1.40 captures) and look-alikes."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.envoy.local_replies import KINDS, LocalReply, parse_local_reply
from tests.support.shared_data import REAL

FIXTURE = REAL / "access_logs" / "istio_access_log_samples.txt"
CURL = Path(__file__).parent.parent / "probe" / "testdata" / "curl"
PREFIX = "upstream connect error or disconnect/reset before headers."
R = "upstream_reset_before_headers"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            f"{PREFIX} reset reason: connection termination", LocalReply(R, "connection termination"), id="uc"
        ),
        pytest.param(
            f"{PREFIX} reset reason: connection failure", LocalReply(R, "connection failure"), id="uf-old"
        ),
        pytest.param(
            f"{PREFIX} reset reason: connection failure, transport failure reason: TLS error: "
            "33554536:system library:OPENSSL_internal:Connection reset by peer",
            LocalReply(
                R,
                "connection failure",
                "TLS error: 33554536:system library:OPENSSL_internal:Connection reset by peer",
            ),
            id="uf-tls-reason",
        ),
        pytest.param(
            f"{PREFIX} retried and the latest reset reason: remote connection failure, transport failure reason: "
            "delayed connect error: 111",
            LocalReply(R, "remote connection failure", "delayed connect error: 111", True),
            id="retried-refused",
        ),
        pytest.param(f"{PREFIX} reset reason: overflow", LocalReply(R, "overflow"), id="overflow"),
        pytest.param(f"{PREFIX} reset overflow", LocalReply(R, "overflow"), id="overflow-old-wording"),
        pytest.param(PREFIX.rstrip("."), LocalReply(R), id="no-reason-very-old"),
        pytest.param("no healthy upstream", LocalReply("no_healthy_upstream"), id="uh"),
        pytest.param("upstream request timeout\n", LocalReply("upstream_request_timeout"), id="ut"),
        pytest.param("RBAC: access denied", LocalReply("rbac_denied"), id="rbac"),
        pytest.param("local_rate_limited", LocalReply("local_rate_limited"), id="rl"),
        pytest.param("Jwt is missing", LocalReply("jwt_denied"), id="jwt"),
        pytest.param("", None, id="empty-body-nr"),
        pytest.param("<html>ok</html>", None, id="healthy-app-body"),
        pytest.param("<p>no healthy upstream</p>", None, id="app-page-mentioning-phrase"),
        pytest.param("x" * 5000, None, id="huge"),
    ],
)
def test_parse_local_reply(body: str, expected: LocalReply | None) -> None:
    assert parse_local_reply(body) == expected
    if expected:
        assert expected.kind in KINDS


def test_fixture_bodies() -> None:
    lines = [ln for ln in FIXTURE.read_text().splitlines() if ln.startswith("upstream connect")]
    replies = [parse_local_reply(ln) for ln in lines]
    assert [r.reset_reason for r in replies if r] == [
        "connection termination",
        "connection failure",
        "connection failure",
    ]
    assert replies[2] is not None and (replies[2].transport_failure_reason or "").startswith(
        "TLS error: 33554536"
    )


@pytest.mark.parametrize("case", ["envoy_refused", "envoy_tls_to_plaintext"])
def test_envoy_140_bodies(case: str) -> None:
    body = (CURL / case / "curl.stdout").read_text().split("\n__MESHPROBER_WRITEOUT__")[0]
    assert parse_local_reply(body) == LocalReply(R, "remote connection failure", None, True)
