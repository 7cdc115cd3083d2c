"""`meshprober tls-check` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def tls_check() -> None:
    """Policy-only mTLS verdict per host:port (tls-check style)."""
    typer.echo("meshprober tls-check: not implemented yet", err=True)
    raise typer.Exit(2)
