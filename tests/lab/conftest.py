"""The lab tests' seed lab: module-scoped, started by the shared tests/support/lab.run_lab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.lab import LabHandle, run_lab


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    yield from run_lab("seed", tmp_path_factory.mktemp("seed"))
