"""Where the shared fixtures live: `shared/` beside this repository (as on developer machines and CI),
or $MESHPROBER_SHARED. Paths only, no I/O: a test that reads a fixture fails (FileNotFoundError naming
the path) when the shared tree is absent, rather than skipping golden checks silently."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MESHPROBER_SHARED") or REPO.parent / "shared")
REAL = SHARED / "fixtures" / "istio-real"
DOCS = SHARED / "docs"
