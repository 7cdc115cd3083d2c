"""`meshprober run` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def run() -> None:
    """Run the agent in a cluster."""
    typer.echo("meshprober run: not implemented yet", err=True)
    raise typer.Exit(2)
