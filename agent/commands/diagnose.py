"""`meshprober diagnose` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def diagnose() -> None:
    """Offline diagnosis of an evidence bundle directory."""
    typer.echo("meshprober diagnose: not implemented yet", err=True)
    raise typer.Exit(2)
