"""`meshprober probe --from NS/WORKLOAD[/CONTAINER] --to URL`: one path now, fully diagnosed.

Runs the same pipeline as the agent against the current kubeconfig, or asks a running agent
over its API (`--agent URL`, bearer token from --token-file or $MESHPROBER_TOKEN). Each way imports
only what it uses: `--agent` loads no cluster client, config schema or policy engine (probe_agent).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, NoReturn

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


_FIELD_FLAGS = (
    ("from", "--from"), ("to", "--to"), ("expect", "--expect"), ("timeout", "--timeout"), ("interval", "--timeout"),
)  # fmt: skip


def _as_flags(message: str) -> str:
    """The ad-hoc validator speaks of API body fields, one error a line; on the command line they are
    flags (`interval` is --timeout too, so a line saying what timeout's says is kept once)."""
    lines: list[str] = []
    for raw in message.splitlines():
        line = raw.removeprefix("request body: ")
        for field, flag in _FIELD_FLAGS:
            if line.startswith((f"{field}:", f"{field}.", f"{field}[")):
                line = flag + line[len(field) :]
                break
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


def _fail(message: str) -> NoReturn:
    typer.echo(f"meshprober probe: {message}", err=True)
    raise typer.Exit(2)


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
    body: dict[str, Any] = {"from": from_, "to": to, "expect": expect}
    if agent:
        result = _ask_agent(agent, body, timeout, token_file)
    else:
        result = _run_here(body, timeout, no_sidecar_ok, kubeconfig, context)
    _print(result, as_json)
    raise typer.Exit(0 if result.get("verdict") == "ok" else 1)


def _ask_agent(agent: str, body: dict[str, Any], timeout: float, token_file: Path | None) -> dict[str, Any]:
    """The agent's answer. The flags are checked here as far as that is cheap; the agent checks the rest."""
    from agent.budget import check_budget_s
    from agent.commands.probe_agent import AgentRefused, flag_errors, post_probe

    if errors := flag_errors(body["from"], body["to"], body["expect"], timeout):
        _fail("\n".join(errors))
    try:
        return post_probe(agent, body, token_file, check_budget_s(timeout))
    except AgentRefused as exc:
        _fail(_as_flags(str(exc)))
    except MeshproberError as exc:
        _fail(str(exc))


def _run_here(
    body: dict[str, Any], timeout: float, no_sidecar_ok: bool, kubeconfig: str | None, context: str | None
) -> dict[str, Any]:
    from agent.serve.adhoc import adhoc_path

    try:
        path = adhoc_path(body, interval=timeout, timeout=timeout)
        if no_sidecar_ok:
            path = path.model_copy(
                update={"source": path.source.model_copy(update={"require_sidecar": False})}
            )
    except MeshproberError as exc:
        _fail(_as_flags(str(exc)))
    try:
        return _local(path, kubeconfig, context)
    except MeshproberError as exc:
        _fail(str(exc))


def _local(path: Any, kubeconfig: str | None, context: str | None) -> dict[str, Any]:
    from agent.kube.live import LiveCluster

    with (
        LiveCluster.from_kubeconfig(kubeconfig, context) as cluster,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="ping") as pool,
    ):
        # A round trip of its own: made beside the check (and the imports below) instead of before it.
        # Its errors (unreachable, unauthorized) are the clearest, so they win over the check's.
        reachable = pool.submit(cluster.ping)
        cluster.prefetch_workload_pods(path.source.namespace, path.source.label)  # while importing
        from agent.check.context import CheckContext
        from agent.check.run import run_check

        try:
            with _spinner(path) as line:
                ctx = replace(CheckContext.for_cluster(cluster), progress=line.update)
                result = run_check(path, ctx, eager_evidence=True)  # a user is waiting on this one probe
        finally:
            reachable.result()
        if result.error_stage == "sidecar_bypass":  # the source itself is wrong: a usage error (exit 2)
            raise InputError(f"--from: {result.diagnosis.summary}")
        return result.to_json()


def _spinner(path: Any) -> AbstractContextManager[Any]:
    """A status line on a terminal, which the check updates as it goes (picking a pod, probing,
    re-probing while it gathers evidence); nothing (and no rich import) when stderr is a pipe."""
    from agent.commands.progress import status

    src = path.source
    return status(f"picking a pod of {src.namespace}/{src.workload} ...")
