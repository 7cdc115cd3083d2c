"""Any subset of a real bundle's optional files works, and less evidence is never confidently wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from agent.bundle import diagnose_bundle, load_bundle
from agent.model import Confidence

BUNDLES = Path(__file__).parent.parent / "testdata" / "bundles"
EXPECTED: dict[str, str] = (
    yaml.safe_load((BUNDLES / "EXPECTED.yaml").read_text()) if (BUNDLES / "EXPECTED.yaml").is_file() else {}
)
REQUIRED = ["probe.json", "curl.stdout", "curl.stderr", "curl.exit"]
STATS = ["client-stats.before", "client-stats.after", "server-stats.before", "server-stats.after"]
SUBSETS = {
    "curl-only": [],
    "client-log": ["client-access.log"],
    "server-log": ["server-access.log"],
    "dump": ["client-config-dump.json"],
    "resources": ["resources"],
    "stats": STATS,
    "dump-and-resources": ["client-config-dump.json", "resources"],
}


@pytest.mark.parametrize("subset", sorted(SUBSETS), ids=str)
@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_subset_is_never_confidently_wrong(tmp_path: Path, name: str, subset: str) -> None:
    for f in REQUIRED + SUBSETS[subset]:
        src = BUNDLES / name / f
        if src.is_dir():
            shutil.copytree(src, tmp_path / f)
        elif src.exists():
            shutil.copy(src, tmp_path / f)
    d = diagnose_bundle(load_bundle(tmp_path))
    if d.verdict.value != EXPECTED[name]:
        assert d.confidence is not Confidence.HIGH, (d.verdict, d.evidence)
