"""`meshprober probe --from NS/WORKLOAD[/CONTAINER] --to URL`: one path now, fully diagnosed.

Runs the same pipeline as the agent against the current kubeconfig, or asks a running agent
over its API (`--agent URL`, bearer token from --token-file or $MESHPROBER_TOKEN).
"""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.errors import InputError, MeshproberError


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    from agent.commands.diagnose import render
    from agent.model import Diagnosis

    src = result.get("source") or {}
    line = f"{src.get('namespace')}/{src.get('pod') or src.get('workload')} -> {result.get('target')}"
    named = result.get("path") not in (None, "adhoc")  # an ad-hoc probe has no configured name
    typer.echo(f"{result['path']}: {line}" if named else line)
    typer.echo(render(Diagnosis.from_json(result)))


_FIELD_FLAGS = (("from", "--from"), ("to", "--to"), ("expect", "--expect"))


def _as_flags(message: str) -> str:
    """The ad-hoc validator speaks of API body fields; on the command line they are flags."""
    message = message.removeprefix("request body: ")
    for field, flag in _FIELD_FLAGS:
        if message.startswith((f"{field}:", f"{field}.", f"{field}[")):
            return flag + message[len(field) :]
    return message


def _via_agent(
    agent_url: str, body: dict[str, Any], token_file: Path | None, timeout: float
) -> dict[str, Any]:
    import httpx

    token = token_file.read_text().strip() if token_file else os.environ.get("MESHPROBER_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.post(
            agent_url.rstrip("/") + "/api/v1/probe", json=body, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise MeshproberError(f"agent {agent_url} unreachable: {exc}") from exc
    if resp.status_code != 200:
        raise MeshproberError(f"agent answered {resp.status_code}: {resp.text.strip()[:300]}")
    data = resp.json()
    return data if isinstance(data, dict) else {}


def probe(
    from_: Annotated[
        str,
        typer.Option(
            "--from", help="Source: NS/WORKLOAD or NS/WORKLOAD/CONTAINER (WORKLOAD may be a label selector)."
        ),
    ],
    to: Annotated[
        str, typer.Option("--to", help="Target URL, e.g. http://productpage.bookinfo:9080/productpage")
    ],
    expect: Annotated[int, typer.Option(help="Expected HTTP status.")] = 200,
    timeout: Annotated[float, typer.Option(help="curl's own deadline in seconds.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    kubeconfig: Annotated[
        str | None, typer.Option(help="Kubeconfig file (default $KUBECONFIG or ~/.kube/config).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context.")] = None,
    no_sidecar_ok: Annotated[
        bool, typer.Option("--allow-no-sidecar", help="Probe from pods without a sidecar.")
    ] = False,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Ask a running agent instead (its base URL).")
    ] = None,
    token_file: Annotated[Path | None, typer.Option(help="Bearer token file for --agent.")] = None,
) -> None:
    """Probe one path now, through the source pod's sidecar, and explain the result."""
    from agent.results import wait_budget
    from agent.serve.adhoc import adhoc_path

    body: dict[str, Any] = {"from": from_, "to": to, "expect": expect}
    try:
        path = adhoc_path(body, interval=timeout, timeout=timeout)
        if no_sidecar_ok:
            path = path.model_copy(
                update={"source": path.source.model_copy(update={"require_sidecar": False})}
            )
    except MeshproberError as exc:
        typer.echo(f"meshprober probe: {_as_flags(str(exc))}", err=True)
        raise typer.Exit(2) from None
    try:
        if agent:
            result = _via_agent(agent, body, token_file, wait_budget(path))
        else:
            result = _local(path, kubeconfig, context)
    except MeshproberError as exc:
        typer.echo(f"meshprober probe: {exc}", err=True)
        raise typer.Exit(2) from None
    _print(result, as_json)
    raise typer.Exit(0 if result.get("verdict") == "ok" else 1)


def _local(path: Any, kubeconfig: str | None, context: str | None) -> dict[str, Any]:
    from agent.check.context import CheckContext
    from agent.check.run import run_check
    from agent.kube.live import LiveCluster

    with LiveCluster.from_kubeconfig(kubeconfig, context) as cluster:
        cluster.ping()
        with _spinner(path) as line:
            ctx = replace(CheckContext.for_cluster(cluster), progress=line.update)
            result = run_check(path, ctx, eager_evidence=True)  # a user is waiting on this one probe
        if result.error_stage == "sidecar_bypass":  # the source itself is wrong: a usage error (exit 2)
            raise InputError(f"--from: {result.diagnosis.summary}")
        return result.to_json()


def _spinner(path: Any) -> AbstractContextManager[Any]:
    """A status line on a terminal, which the check updates as it goes (picking a pod, probing,
    re-probing while it gathers evidence); nothing (and no rich import) when stderr is a pipe."""
    from agent.commands.progress import status

    src = path.source
    return status(f"picking a pod of {src.namespace}/{src.workload} ...")
