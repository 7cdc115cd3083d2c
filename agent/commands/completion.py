"""`meshprober completion bash|zsh`: print the shell completion script (Click's completion protocol
through Typer), as `kubectl completion` does. `enable()` registers the shells so the script's calls
back into meshprober (`_MESHPROBER_COMPLETE=bash_complete ...`) are answered."""

from __future__ import annotations

from typing import Annotated

import typer

SHELLS = ("bash", "zsh")
COMPLETE_VAR = "_MESHPROBER_COMPLETE"


def enable() -> None:
    from typer.completion import completion_init

    completion_init()


def completion(shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash or zsh")]) -> None:
    """Print the completion script: `source <(meshprober completion bash)`."""
    if shell not in SHELLS:
        typer.echo(f"meshprober completion: SHELL {shell!r}: expected bash or zsh", err=True)
        raise typer.Exit(2)
    from typer.completion import get_completion_script

    typer.echo(get_completion_script(prog_name="meshprober", complete_var=COMPLETE_VAR, shell=shell))
