"""Where the shared fixtures live: `shared/` beside this repository (as on developer machines and CI),
or $MESHPROBER_SHARED. Tests that need it skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MESHPROBER_SHARED") or REPO.parent / "shared")
REAL = SHARED / "fixtures" / "istio-real"
DOCS = SHARED / "docs"


def require(path: Path) -> Path:
    """`path` if it exists, else skip the calling test (the shared fixtures are not on this machine)."""
    if not path.exists():
        pytest.skip(f"shared fixtures not found at {path} (set MESHPROBER_SHARED)")
    return path
