"""The resilience tests' seed lab: in-process, module-scoped, always stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.lab.runtime import Lab
from agent.lab.scenario import load_scenario


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(load_scenario("seed"), tmp_path_factory.mktemp("resilience") / "state")
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()
