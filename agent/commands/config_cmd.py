"""`meshprober config validate FILE` (placeholder until the agent issue lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Agent configuration.", no_args_is_help=True)


@app.command()
def validate() -> None:
    """Validate an agent configuration file."""
    typer.echo("meshprober config validate: not implemented yet", err=True)
    raise typer.Exit(2)
