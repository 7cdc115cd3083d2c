"""Response-flag catalog completeness and parse_flags on every accepted spelling."""

from __future__ import annotations

import pytest

from agent.envoy.response_flags import RESPONSE_FLAGS, parse_flags

# Envoy source/common/stream_info/utility.h CORE_RESPONSE_FLAGS, through UnconditionalDropOverload.
ENVOY_FLAGS = [
    "LH",
    "UH",
    "UT",
    "LR",
    "UR",
    "UF",
    "UC",
    "UO",
    "NR",
    "DI",
    "FI",
    "RL",
    "UAEX",
    "RLSE",
    "DC",
    "URX",
    "SI",
    "IH",
    "DPE",
    "UMSDR",
    "RFCF",
    "NFCF",
    "DT",
    "UPE",
    "NC",
    "OM",
    "DF",
    "DO",
    "DR",
    "UDO",
]


def test_catalog_is_the_full_envoy_list() -> None:
    assert sorted(RESPONSE_FLAGS) == sorted(ENVOY_FLAGS)
    assert len({f.long for f in RESPONSE_FLAGS.values()}) == len(RESPONSE_FLAGS)
    assert all(f.meaning for f in RESPONSE_FLAGS.values())


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        pytest.param("-", (), id="healthy-dash"),
        pytest.param("", (), id="empty"),
        pytest.param(None, (), id="none"),
        pytest.param("UC", ("UC",), id="single"),
        pytest.param("URX,UF", ("URX", "UF"), id="comma-list-keeps-order"),
        pytest.param("UF,URX,UF", ("UF", "URX"), id="dedup"),
        pytest.param("UpstreamConnectionFailure,UpstreamRetryLimitExceeded", ("UF", "URX"), id="long-names"),
        pytest.param('{"response_flags":"UF,URX"}', ("UF", "URX"), id="json-object-text"),
        pytest.param('"UO"', ("UO",), id="json-string"),
        pytest.param({"response_flags": "NR"}, ("NR",), id="mapping"),
        pytest.param(
            {"upstream_connection_failure": True, "noHealthyUpstream": True}, ("UF", "UH"), id="als"
        ),
        pytest.param(["UT", "bogus"], ("UT",), id="list"),
        pytest.param("XYZ", (), id="unknown-dropped"),
        pytest.param("[" * 5000, (), id="deep-json-garbage"),
    ],
)
def test_parse_flags(text: object, flags: tuple[str, ...]) -> None:
    assert parse_flags(text) == flags  # type: ignore[arg-type]


@pytest.mark.parametrize("short", ENVOY_FLAGS)
def test_every_long_name_round_trips(short: str) -> None:
    assert parse_flags(RESPONSE_FLAGS[short].long) == (short,)
