"""An evidence bundle that cannot be written costs the bundle, never the result: the verdict stands,
bundle_dir is None, and the failure is counted as stage "evidence". Real pipeline on ReplayCluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.bundle.keep import EvidenceSettings
from agent.check.context import CheckContext
from agent.check.run import run_check
from tests.support.replay_cluster import ReplayCluster, seed_path
from tests.support.roundtrip import assert_diagnose_agrees


@pytest.mark.parametrize(
    ("blocked", "kept"),
    [
        pytest.param(False, True, id="writable-dir-keeps-bundle"),
        pytest.param(True, False, id="dir-is-a-file"),
    ],
)
def test_bundle_write_failure_is_counted_not_raised(tmp_path: Path, blocked: bool, kept: bool) -> None:
    evidence = tmp_path / "evidence"
    if blocked:
        evidence.write_text("not a directory")
    path = seed_path()
    errors: list[str] = []
    ctx = CheckContext.for_cluster(
        ReplayCluster(), evidence=EvidenceSettings(dir=evidence), errors=errors.append
    )
    result = run_check(path, ctx)
    assert not result.diagnosis.healthy  # the seed's break, diagnosed either way
    assert (result.bundle_dir is not None) is kept
    assert errors == ([] if kept else ["evidence"])
    if result.bundle_dir is not None:
        assert_diagnose_agrees(result.bundle_dir)
