"""`meshprober run --config FILE`: the agent in a cluster (in-cluster config, or a kubeconfig)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from agent.errors import MeshproberError


def run(
    config: Annotated[Path, typer.Option("--config", help="Agent configuration YAML.")],
    listen: Annotated[
        str | None, typer.Option(help="HOST:PORT for metrics/API/status page (overrides api.listen).")
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option(help="Kubeconfig file (default: in-cluster, then $KUBECONFIG).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context.")] = None,
    shard_index: Annotated[
        int | None, typer.Option(help="This replica's shard (default: StatefulSet ordinal).")
    ] = None,
    shard_count: Annotated[int | None, typer.Option(help="Number of shards.")] = None,
    evidence_dir: Annotated[
        Path | None, typer.Option(help="Where evidence bundles go (overrides evidence.dir).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_format: Annotated[
        str,
        typer.Option(
            help="text (for people) or json (one object per line with path, verdict, stage, duration, "
            "for log pipelines)."
        ),
    ] = "text",
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            metavar="NS",
            help="List only in this namespace (repeatable; overrides scope.namespaces in the config).",
        ),
    ] = None,
) -> None:
    """Run the agent: scheduled probes, metrics, API and status page, until SIGTERM/Ctrl-C."""
    from agent.serve.events import LOG_FORMATS, configure_logging

    if log_format not in LOG_FORMATS:
        typer.echo(f"meshprober run: --log-format {log_format!r}: expected text or json", err=True)
        raise typer.Exit(2)
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        typer.echo(
            f"meshprober run: --log-level {log_level!r}: expected DEBUG, INFO, WARNING or ERROR", err=True
        )
        raise typer.Exit(2)
    configure_logging(log_level, log_format)
    from agent.config import load_config
    from agent.kube.live import LiveCluster
    from agent.wiring import build_agent, prime_policy

    try:
        load_config(config)  # a bad config is the first thing to report, before any cluster access
        cluster = LiveCluster.auto(kubeconfig, context)
        agent, ctx = build_agent(
            config,
            cluster,
            shard=(shard_index, shard_count),
            evidence_dir=evidence_dir,
            namespaces=namespace or None,
        )
        agent.start(listen=listen)
        prime_policy(agent, ctx)  # meshprober_tls_conflict before the first probe of each path
    except MeshproberError as exc:
        typer.echo(f"meshprober run: {exc}", err=True)
        raise typer.Exit(2) from None
    serving = f"meshprober agent serving on {agent.url} (shard {agent.shard[0]}/{agent.shard[1]})"
    if log_format == "json":  # every stderr line stays one JSON object for the log pipeline
        logging.getLogger("meshprober").info(serving, extra={"event": "serving"})
    else:
        typer.echo(serving, err=True)
    agent.run_until_signalled()
