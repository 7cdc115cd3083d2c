"""`meshprober tls-check`: which DestinationRule and PeerAuthentication apply, and do they conflict.

Reads policy objects from `--resources DIR` (YAML/JSON) or, without it, from the live cluster via
agent.kube.live (imported lazily). Prints a tls-check table or `--json` rows. Exit 0 all OK,
1 any CONFLICT, 2 bad input (with a message naming the flag or file).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agent.errors import InputError, MeshproberError

if TYPE_CHECKING:  # the engine loads only when the command runs, not on every `meshprober` start
    from agent.evidence import PolicyView
    from agent.istio.engine import PolicyEngine

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_HOST = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$")
HEADER = ("HOST:PORT", "STATUS", "SERVER", "CLIENT", "AUTHN POLICY", "DESTINATION RULE")


def parse_from(value: str) -> tuple[str, str]:
    ns, sep, pod = value.partition("/")
    if not sep or not _NAME.match(ns) or not _NAME.match(pod) or len(value) > 317:
        raise InputError(f"--from {value!r}: expected NAMESPACE/POD (lower-case DNS names)")
    return ns, pod


def parse_target(value: str) -> tuple[str, int | None]:
    host, sep, port_text = value.rpartition(":") if ":" in value else (value, "", "")
    if not _HOST.match(host) or len(host) > 253:
        raise InputError(f"HOST {value!r}: not a valid host name")
    if not sep:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InputError(f"HOST[:PORT] {value!r}: port must be 1-65535")
    return host, int(port_text)


def load_objects(resources: Path | None) -> tuple[list[dict[str, Any]], list[str]]:
    if resources is not None:
        if not resources.exists():
            raise InputError(f"--resources {resources}: no such file or directory")
        from agent.istio.load import load_objects_from_dir

        result = load_objects_from_dir(resources)
        if not result.objects:
            raise InputError(f"--resources {resources}: no Kubernetes objects found")
        return result.objects, result.notes
    try:
        from agent.kube.live import LiveCluster  # lazy: only the live path needs the client
    except ImportError as exc:
        raise InputError(f"cannot read the live cluster ({exc}); use --resources DIR") from None
    with LiveCluster.from_kubeconfig(context=None, namespace=None) as cluster:
        return cluster.list_policy_objects(), []


def row_json(view: PolicyView, client_ns: str | None = None) -> dict[str, Any]:
    remedy = None
    if view.remedy_text is not None:
        remedy = {"text": view.remedy_text, "patch": view.remedy_patch}
    out: dict[str, Any] = {} if client_ns is None else {"client_namespace": client_ns}
    out.update(
        host=view.host,
        port=view.port,
        status=view.status,
        client_mode=view.client_mode,
        client_mode_source=view.client_mode_source,
        server_mode=view.server_mode,
        destination_rule=view.destination_rule,
        peer_authentication=view.peer_authentication,
        remedy=remedy,
        symptom=view.symptom,
        explanation=view.explanation,
    )
    return out


def render_table(rows: list[tuple[str | None, PolicyView]]) -> str:
    with_ns = any(ns is not None for ns, _ in rows)
    header = (("FROM",) if with_ns else ()) + HEADER
    lines = [header]
    for ns, v in rows:
        cells = (
            f"{v.host}:{v.port}",
            v.status,
            v.server_mode,
            v.client_mode,
            v.peer_authentication or "-",
            v.destination_rule or "-",
        )
        lines.append(((ns or "-",) if with_ns else ()) + cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["     ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    for ns, v in rows:
        if v.status != "CONFLICT":
            continue
        out.append("")
        out.append(f"CONFLICT {v.host}:{v.port}" + (f" from {ns}" if ns else ""))
        out.append(f"  symptom: {v.symptom}")
        out.append(f"  why: {v.explanation}")
        if v.remedy_text:
            out.append(f"  fix: {v.remedy_text}")
        if v.remedy_patch:
            out.extend("    " + line for line in v.remedy_patch.rstrip().splitlines())
    return "\n".join(out)


def run_check(
    engine: PolicyEngine, source: str | None, target: str | None, all_pairs: bool
) -> list[tuple[str | None, PolicyView]]:
    if all_pairs:
        from agent.commands.progress import track

        namespaces = engine.client_namespaces()
        # The audit is every (client namespace, service port): long on a big mesh, so show progress.
        return [
            (ns, v)
            for ns in track(namespaces, len(namespaces), "checking client namespaces")
            for v in engine.check_client(ns, None)
        ]
    if source is None:
        raise InputError("--from NAMESPACE/POD is required (or --all for the mesh audit)")
    ns, pod = parse_from(source)
    if target is None:
        return [(None, v) for v in engine.check_client(ns, pod)]
    host, port = parse_target(target)
    if port is not None:
        return [(None, engine.check(ns, pod, host, port))]
    svc = engine.find_service(ns, host)
    return [(None, engine.check(ns, pod, svc.fqdn, p.port)) for p in sorted(svc.ports, key=lambda p: p.port)]


def tls_check(
    target: Annotated[
        str | None, typer.Argument(metavar="[HOST[:PORT]]", help="service host, short or FQDN")
    ] = None,
    source: Annotated[str | None, typer.Option("--from", help="client NAMESPACE/POD")] = None,
    resources: Annotated[
        Path | None,
        typer.Option("--resources", help="directory of YAML/JSON objects (default: live cluster)"),
    ] = None,
    all_pairs: Annotated[
        bool, typer.Option("--all", help="audit every (client namespace, service port)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON rows")] = False,
) -> None:
    """Policy-only mTLS verdict per host:port (tls-check style)."""
    try:
        if all_pairs and (source is not None or target is not None):
            raise InputError("--all cannot be combined with --from or HOST")
        if source is not None:
            parse_from(source)  # fail fast on a bad flag before reading anything
        objects, notes = load_objects(resources)
        from agent.istio.engine import PolicyEngine

        engine = PolicyEngine(objects)
        rows = run_check(engine, source, target, all_pairs)
    except MeshproberError as exc:
        typer.echo(f"meshprober tls-check: {exc}", err=True)
        raise typer.Exit(2) from None
    for note in notes + engine.notes:
        typer.echo(f"note: {note}", err=True)
    if as_json:
        typer.echo(json.dumps([row_json(v, ns) for ns, v in rows], indent=2))
    else:
        typer.echo(render_table(rows))
    raise typer.Exit(1 if any(v.status == "CONFLICT" for _, v in rows) else 0)
