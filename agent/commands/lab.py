"""`meshprober lab up|down|status` (placeholder until the lab issue lands)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The local mesh lab: real Envoy sidecars and an API-server emulator.", no_args_is_help=True
)


@app.command()
def status() -> None:
    """Show whether the lab runs."""
    typer.echo("meshprober lab: not implemented yet", err=True)
    raise typer.Exit(2)
