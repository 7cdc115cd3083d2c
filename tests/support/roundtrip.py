"""A kept evidence bundle, diagnosed again offline, must give the bundle's own diagnosis.json.

Issue 12's contract: the live agent and `meshprober diagnose DIR` share one input builder, so every
field of the Diagnosis JSON (verdict, confidence, summary, evidence, remedy ...) agrees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.bundle.read import load_bundle
from agent.bundle.to_input import diagnose_bundle


def differences(written: dict[str, Any], again: dict[str, Any]) -> list[str]:
    keys = sorted(set(written) | set(again))
    return [
        f"{k}: agent wrote {written.get(k)!r}, diagnose gives {again.get(k)!r}"
        for k in keys
        if written.get(k) != again.get(k)
    ]


def assert_diagnose_agrees(bundle: Path) -> None:
    written = json.loads((bundle / "diagnosis.json").read_text())
    again = diagnose_bundle(load_bundle(bundle)).to_json()
    diff = differences(written, again)
    assert not diff, f"{bundle}:\n" + "\n".join(diff)


def kept_bundles(root: Path) -> Iterable[Path]:
    """Every bundle directory (one holding diagnosis.json) under an evidence root."""
    return sorted(p.parent for p in root.rglob("diagnosis.json"))
