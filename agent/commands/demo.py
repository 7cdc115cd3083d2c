"""`meshprober demo` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def demo() -> None:
    """Start the local lab on the seed scenario and run the agent against it."""
    typer.echo("meshprober demo: not implemented yet", err=True)
    raise typer.Exit(2)
