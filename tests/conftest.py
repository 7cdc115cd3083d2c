"""Suite-wide fixtures."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """`meshprober run` sets root logging to stderr (agent.serve.events.configure_logging); invoked
    in-process through typer's CliRunner, that stderr is closed after the test, and every later log
    record in the same worker would fail to write to it. Put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
