"""`meshprober probe` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def probe() -> None:
    """Probe one path now, through the source pod's sidecar."""
    typer.echo("meshprober probe: not implemented yet", err=True)
    raise typer.Exit(2)
