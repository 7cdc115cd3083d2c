"""Stats parsing on real Envoy 1.40 /stats output, delta semantics, fuzz."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.envoy.stats import delta, parse_stats

ENVOY140 = Path(__file__).parent / "testdata" / "envoy-1.40"
PLAIN = "cluster.outbound|9080||plain.lab.svc.cluster.local."


def test_real_stats_snapshot() -> None:
    stats = parse_stats((ENVOY140 / "stats.after").read_text())
    assert stats[PLAIN + "ssl.connection_error"] == 3
    assert not any(k.endswith("upstream_cx_connect_ms") for k in stats)  # histogram skipped


def test_real_delta_shows_what_the_probes_did() -> None:
    d = delta(
        parse_stats((ENVOY140 / "stats.before").read_text()),
        parse_stats((ENVOY140 / "stats.after").read_text()),
    )
    assert d[PLAIN + "ssl.connection_error"] == 3
    assert d[PLAIN + "upstream_rq_retry"] == 2
    assert d["cluster.outbound|9080||refused.lab.svc.cluster.local.upstream_cx_connect_fail"] == 3
    assert all(v > 0 for v in d.values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a.b: 1\nc: 0", {"a.b": 1, "c": 0}, id="healthy-counters"),
        pytest.param("x: P0(nan,1) P25(nan,2)\ny: No recorded values", {}, id="histograms"),
        pytest.param(
            "reporter=.=source;istio_requests_total: 5",
            {"reporter=.=source;istio_requests_total": 5},
            id="tags",
        ),
        pytest.param("weird:name: 7", {"weird:name": 7}, id="colon-in-name"),
        pytest.param('# TYPE m counter\nm{a="b"} 3', {'m{a="b"}': 3}, id="prometheus"),
        pytest.param("garbage\n: 3\nz: x", {}, id="garbage"),
    ],
)
def test_parse_stats(text: str, expected: dict[str, int]) -> None:
    assert parse_stats(text) == expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param({"a": 1}, {"a": 1}, {}, id="healthy-unchanged"),
        pytest.param({"a": 1}, {"a": 4}, {"a": 3}, id="grew"),
        pytest.param({}, {"b": 2}, {"b": 2}, id="new-stat"),
        pytest.param({"a": 5}, {"a": 1}, {}, id="reset-or-gauge-down"),
        pytest.param({"a": 5}, {}, {}, id="vanished"),
    ],
)
def test_delta(before: dict[str, int], after: dict[str, int], expected: dict[str, int]) -> None:
    assert delta(before, after) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_never_raises(text: str) -> None:
    stats = parse_stats(text)
    assert delta(stats, stats) == {}
