"""The `meshprober` command: wires each subcommand module (agent/commands/*) into one Typer app.

Exit codes: 0 healthy/success, 1 a probed path is unhealthy, 2 usage or input error.

A run names its subcommand first (`meshprober probe ...`), so `main()` imports and registers only
that one: a cold `probe` does not import the demo, lab or tls-check modules. Help, completion and
`agent.cli.app` (tests, the kubectl plugin) get every command.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

# name -> (module, attribute); in help order. `lab` and `config` are Typer groups of their own.
COMMANDS: dict[str, tuple[str, str]] = {
    "diagnose": ("agent.commands.diagnose", "diagnose"),
    "explain": ("agent.commands.explain", "explain"),
    "tls-check": ("agent.commands.tls_check", "tls_check"),
    "probe": ("agent.commands.probe", "probe"),
    "run": ("agent.commands.run", "run"),
    "demo": ("agent.commands.demo", "demo"),
    "lab": ("agent.commands.lab", "app"),
    "config": ("agent.commands.config_cmd", "app"),
    "completion": ("agent.commands.completion", "completion"),
}
GROUPS = frozenset({"lab", "config"})


def _stay_a_group() -> None:
    """With a single command registered Typer would run it without its name; a callback prevents that."""


def build_app(only: str | None = None) -> typer.Typer:
    """The app with every command, or with only the one named `only`."""
    app = typer.Typer(
        name="meshprober",
        help="Active mTLS-aware probes for Istio meshes: why does service-to-service traffic fail?",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    if only is not None:
        app.callback()(_stay_a_group)
    for name, (module, attr) in COMMANDS.items():
        if only is None or name == only:
            target = getattr(importlib.import_module(module), attr)
            if name in GROUPS:
                app.add_typer(target, name=name)
            else:
                app.command(name)(target)
    return app


def _invoked(argv: list[str]) -> str | None:
    """The subcommand this run names, when it is a plain run of one (not help or shell completion)."""
    from agent.commands.completion import COMPLETE_VAR

    if not argv or argv[0] not in COMMANDS or COMPLETE_VAR in os.environ:
        return None
    return argv[0]


def __getattr__(name: str) -> typer.Typer:  # PEP 562: `from agent.cli import app`, built on first use
    if name == "app":
        return build_app()
    raise AttributeError(f"module 'agent.cli' has no attribute {name!r}")


def main() -> None:
    from agent.commands import completion

    completion.enable()
    app = build_app(_invoked(sys.argv[1:]))
    app(complete_var=completion.COMPLETE_VAR)  # whatever the program is called (python -m agent ...)


if __name__ == "__main__":
    main()
