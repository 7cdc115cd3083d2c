"""The resilience tests' seed lab: in-process, module-scoped, always stopped (tests/support/lab.run_lab)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meshlab.runtime import Lab
from tests.support.lab import run_lab


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # These tests drive the Lab object itself (its emulator, supervisor and pods), not kubectl.
    for handle in run_lab("seed", tmp_path_factory.mktemp("resilience")):
        yield handle.lab
