"""The `meshprober` command: wires each subcommand module (agent/commands/*) into one Typer app.

Exit codes: 0 healthy/success, 1 a probed path is unhealthy, 2 usage or input error.
"""

from __future__ import annotations

import typer

from agent.commands import completion, config_cmd, demo, diagnose, explain, lab, probe, run, tls_check

app = typer.Typer(
    name="meshprober",
    help="Active mTLS-aware probes for Istio meshes: why does service-to-service traffic fail?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("diagnose")(diagnose.diagnose)
app.command("explain")(explain.explain)
app.command("tls-check")(tls_check.tls_check)
app.command("probe")(probe.probe)
app.command("run")(run.run)
app.command("demo")(demo.demo)
app.add_typer(lab.app, name="lab")
app.add_typer(config_cmd.app, name="config")
app.command("completion")(completion.completion)


def main() -> None:
    completion.enable()
    app(complete_var=completion.COMPLETE_VAR)  # whatever the program is called (python -m agent ...)


if __name__ == "__main__":
    main()
