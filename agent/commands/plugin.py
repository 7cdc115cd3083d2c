"""The kubectl plugin: `kubectl-meshprober` (so `kubectl meshprober probe|tls-check|diagnose ...`
works through kubectl's plugin discovery on PATH) and `kubectl_complete-meshprober`, which kubectl
(1.26+) runs to complete a plugin's arguments and which answers in Cobra's `__complete` format:
one candidate per line (value, a tab, its help), then `:DIRECTIVE`.
"""

from __future__ import annotations

import sys

PROG = "kubectl meshprober"
# Cobra ShellCompDirective values (spf13/cobra completions.go): 0 default (the shell may offer
# files), 4 NoFileComp.
DIRECTIVE_DEFAULT = 0
DIRECTIVE_NO_FILES = 4


def plugin_main() -> None:
    """`kubectl-meshprober`: the meshprober CLI, named as kubectl users type it."""
    from agent.cli import app
    from agent.commands.completion import COMPLETE_VAR, enable

    enable()
    app(prog_name=PROG, complete_var=COMPLETE_VAR)


def complete(args: list[str]) -> list[str]:
    """Cobra-style completion lines for `kubectl meshprober ARGS...` (the last arg is the word typed)."""
    import typer.main

    # Typer's own completion class: Click's base classes do not resolve a Typer subcommand's options.
    from typer._completion_classes import BashComplete

    from agent.cli import app
    from agent.commands.completion import COMPLETE_VAR

    words, incomplete = (args[:-1], args[-1]) if args else ([], "")
    command = typer.main.get_command(app)
    items = BashComplete(command, {}, PROG, COMPLETE_VAR).get_completions(words, incomplete)
    lines = [
        f"{item.value}\t{item.help}" if item.help else str(item.value)
        for item in items
        if item.type == "plain"
    ]
    directive = DIRECTIVE_NO_FILES if lines else DIRECTIVE_DEFAULT
    return [*lines, f":{directive}"]


def complete_main() -> None:
    """`kubectl_complete-meshprober ARGS...`: print completions for kubectl's plugin completion."""
    sys.stdout.write("\n".join(complete(sys.argv[1:])) + "\n")
