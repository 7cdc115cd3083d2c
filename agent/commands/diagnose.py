"""`meshprober diagnose DIR [--json]`: offline diagnosis of an evidence bundle directory.

Human output: one-line verdict, the summary, the evidence lines that prove it and the remedy.
`--json`: exactly `Diagnosis.to_json()`. Exit 0 healthy, 1 unhealthy, 2 bad input (message names
the file; never a traceback). Writes nothing into the bundle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agent.errors import MeshproberError
from agent.model import Diagnosis


def render(d: Diagnosis) -> str:
    lines = [f"{d.category.value}/{d.verdict.value} (confidence {d.confidence.value})", d.summary]
    facts = [
        ("HTTP status", d.http_status),
        ("response flags", d.response_flags),
        ("client TLS", d.client_tls_mode),
        ("server mTLS", d.server_mtls_mode),
        ("DestinationRule", d.destination_rule),
        ("PeerAuthentication", d.peer_authentication),
    ]
    known = [f"{k}: {v}" for k, v in facts if v is not None]
    if known:
        lines.append("  " + "; ".join(known))
    if d.evidence:
        lines.append("evidence:")
        lines.extend(f"  - {e}" for e in d.evidence)
    if d.remedy is not None:
        lines.append(f"fix: {d.remedy.text}")
        if d.remedy.patch:
            lines.append("patch:")
            lines.extend("  " + p for p in d.remedy.patch.rstrip().splitlines())
    return "\n".join(lines)


def diagnose(
    bundle_dir: Annotated[Path, typer.Argument(metavar="DIR", help="evidence bundle directory")],
    as_json: Annotated[bool, typer.Option("--json", help="print the Diagnosis JSON")] = False,
) -> None:
    """Offline diagnosis of an evidence bundle directory."""
    from agent.bundle.read import load_bundle  # only this command pays for the parsers
    from agent.bundle.to_input import diagnose_bundle

    try:
        bundle = load_bundle(bundle_dir)
        result = diagnose_bundle(bundle)
    except MeshproberError as exc:
        typer.echo(f"meshprober diagnose: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # a parser bug must still not print a traceback at a user
        typer.echo(
            f"meshprober diagnose: {bundle_dir}: could not diagnose ({type(exc).__name__}: {exc})", err=True
        )
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        typer.echo(render(result))
        for note in bundle.notes:
            typer.echo(f"note: {note}", err=True)
    raise typer.Exit(0 if result.healthy else 1)
