"""Every command's --help renders (rich markup in a help text once crashed `probe --help`)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from agent.cli import app

COMMANDS = [
    ["--help"],
    ["demo", "--help"],
    ["run", "--help"],
    ["probe", "--help"],
    ["diagnose", "--help"],
    ["explain", "--help"],
    ["tls-check", "--help"],
    ["lab", "up", "--help"],
    ["lab", "down", "--help"],
    ["lab", "status", "--help"],
    ["config", "validate", "--help"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:-1]) or "meshprober")
def test_help_renders(argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
