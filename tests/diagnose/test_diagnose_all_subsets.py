"""Every subset (power set) of a golden bundle's optional evidence: right verdict or a hedged one.

Walks all 64 groupings of the six optional pieces per bundle inside one case (the failure message
lists every grouping that came out confidently wrong), so less evidence is never confidently wrong.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
import yaml

from agent.bundle.read import load_bundle
from agent.bundle.to_input import diagnose_bundle
from agent.model import Confidence

BUNDLES = Path(__file__).parent.parent / "testdata" / "bundles"
EXPECTED: dict[str, str] = yaml.safe_load((BUNDLES / "EXPECTED.yaml").read_text())
REQUIRED = ("probe.json", "curl.stdout", "curl.stderr", "curl.exit")
GROUPS: dict[str, tuple[str, ...]] = {
    "client-log": ("client-access.log",),
    "server-log": ("server-access.log",),
    "dump": ("client-config-dump.json",),
    "resources": ("resources",),
    "client-stats": ("client-stats.before", "client-stats.after"),
    "server-stats": ("server-stats.before", "server-stats.after"),
}


def _copy(name: str, files: tuple[str, ...], dest: Path) -> None:
    for f in files:
        src = BUNDLES / name / f
        if src.is_dir():
            shutil.copytree(src, dest / f)
        elif src.exists():
            shutil.copy(src, dest / f)


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_every_subset_is_right_or_hedged(tmp_path: Path, name: str) -> None:
    wrong: list[str] = []
    for r in range(len(GROUPS) + 1):
        for combo in itertools.combinations(GROUPS, r):
            dest = tmp_path / ("+".join(combo) or "curl-only")
            dest.mkdir()
            _copy(name, REQUIRED + tuple(f for g in combo for f in GROUPS[g]), dest)
            d = diagnose_bundle(load_bundle(dest))
            if d.verdict.value != EXPECTED[name] and d.confidence is Confidence.HIGH:
                wrong.append(f"{dest.name}: {d.verdict.value} (high)")
    assert not wrong, f"{name} expected {EXPECTED[name]}; confidently wrong with " + "; ".join(wrong)


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_full_bundle_is_right(name: str) -> None:
    assert diagnose_bundle(load_bundle(BUNDLES / name)).verdict.value == EXPECTED[name]
