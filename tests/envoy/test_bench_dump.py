"""The benchmark's generated dump is realistic enough for parse_clusters (no timing asserted)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from agent.envoy.config_dump import parse_clusters
from agent.evidence import TlsOrigination

BENCH = Path(__file__).resolve().parent.parent.parent / "bench" / "config_dump.py"


@pytest.mark.parametrize("size_mb", [pytest.param(0.3, id="small-dump")])
def test_generated_dump_parses_with_every_tls_shape(tmp_path: Path, size_mb: float) -> None:
    spec = importlib.util.spec_from_file_location("bench_config_dump", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "dump.json"
    count = bench.generate(path, size_mb)
    clusters = parse_clusters(path.read_bytes())
    assert len(clusters) == count
    modes = Counter(c.tls for c in clusters)
    assert set(modes) == {TlsOrigination.AUTO, TlsOrigination.ISTIO_MUTUAL, TlsOrigination.PLAINTEXT}
    assert all(set(c.endpoint_tls_modes.values()) == {"istio"} for c in clusters)
    assert any(c.subset and c.destination_rule for c in clusters)
