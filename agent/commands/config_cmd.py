"""`meshprober config validate FILE`: check an agent configuration and summarize what it will probe.

Exit 0 when valid, 2 with `FILE: field.path: message` lines when not. Never prints a token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.serve.access import exposure_problem

app = typer.Typer(help="Agent configuration.", no_args_is_help=True)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="agent configuration YAML", show_default=False)],
) -> None:
    """Validate an agent configuration file."""
    from agent.config import load_config  # pydantic is imported only by the commands that need it
    from agent.errors import ConfigError

    try:
        config = load_config(file)
        config.api.read_token()  # a configured but unreadable token is an error worth catching now
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    auth = "bearer token" if (config.api.token_file or config.api.token_env) else "no token"
    typer.echo(f"{file}: OK")
    typer.echo(
        f"  {len(config.paths)} paths, {len(config.discovery)} discovery rules, "
        f"max {config.limits.max_concurrent_probes} concurrent probes, "
        f"shard {config.shard.index}/{config.shard.count}"
    )
    typer.echo(
        f"  API on {config.api.listen} ({auth}, ad-hoc probes {'on' if config.api.allow_adhoc else 'off'})"
    )
    api = config.api
    problem = exposure_problem(
        api.host_port[0], bool(api.token_file or api.token_env), api.insecure, api.allow_adhoc
    )
    if problem is not None:  # valid YAML, but `meshprober run` with this api.listen would refuse to start
        typer.echo(f"  warning: the agent will refuse to start: {problem}")
    for path in config.paths:
        typer.echo(
            f"  - {path.name}: {path.source.namespace}/{path.source.label} -> {path.to.target_url} "
            f"expect {','.join(map(str, path.expect))} every {path.interval:g}s (timeout {path.timeout:g}s)"
        )
