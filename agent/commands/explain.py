"""`meshprober explain [FILE ...|-] [--json]`: judge pasted Envoy/Istio log lines, curl output or 503 bodies.

Reads each FILE (or stdin for `-` or no argument), finds the items in it (agent.explain) and prints
a short table plus details per unhealthy item, or `--json`: an array with one object per item.
Exit 0 when every item is healthy, 1 when any is not, 2 when a file cannot be read or nothing in
the input is recognised (the message says what was expected). Writes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

EXPECTED = (
    "expected Istio/Envoy access-log lines (TEXT or JSON), TCP or HBONE tunnel lines, ztunnel access "
    "lines, a `curl -v` transcript or an Envoy local-reply body (e.g. `upstream connect error or "
    "disconnect/reset before headers. reset reason: ...`)"
)
MAX_INPUT_BYTES = 64 * 1024 * 1024  # a pasted log, not a disk image
SUMMARY_WIDTH = 72
if TYPE_CHECKING:  # the parsers load only when the command runs, not on every `meshprober` start
    from agent.explain import Explained


def _read(sources: list[str]) -> list[tuple[str, str]]:
    """(name, text) per source; `-` is stdin. Raises OSError/ValueError naming the source."""
    out = []
    for src in sources or ["-"]:
        if src == "-":
            if sys.stdin.isatty():  # say why nothing happens: we wait for a paste
                typer.echo("meshprober explain: reading stdin; paste the lines, then Ctrl-D", err=True)
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
            name = "stdin"
        else:
            path = Path(src)
            if not path.is_file():
                raise ValueError(f"{src}: no such file")
            with path.open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
            name = src
        if len(data) > MAX_INPUT_BYTES:
            raise ValueError(f"{name}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
        out.append((name, data.decode("utf-8", errors="replace")))
    return out


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render(results: list[tuple[str, Explained]], many: bool) -> str:
    rows = [("LINE", "KIND", "STATUS", "VERDICT", "CONFIDENCE", "SUMMARY")]
    for name, r in results:
        d = r.diagnosis
        where = f"{name}:{r.item.line}" if many else str(r.item.line)
        status = str(d.http_status) if d.http_status is not None else "-"
        rows.append(
            (
                where,
                r.item.kind,
                status,
                d.verdict.value,
                d.confidence.value,
                _short(d.summary, SUMMARY_WIDTH),
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(5)]
    lines = ["  ".join(v.ljust(widths[c]) for c, v in enumerate(row[:5])) + "  " + row[5] for row in rows]
    for name, r in results:
        d = r.diagnosis
        if d.healthy:
            continue
        where = f"{name}:{r.item.line}" if many else f"line {r.item.line}"
        lines += [
            "",
            f"{where} ({r.item.kind}): {d.category.value}/{d.verdict.value} (confidence {d.confidence.value})",
        ]
        lines.append(f"  {d.summary}")
        lines += [f"  - {e}" for e in d.evidence]
        if r.joined_with:
            lines.append("  judged together with line " + ", ".join(str(n) for n in r.joined_with))
        if r.item.repairs:
            lines.append("  read after repairs: " + "; ".join(r.item.repairs))
        if d.remedy is not None:
            lines.append(f"  fix: {d.remedy.text}")
        lines += [f"  confirm: {c}" for c in r.confirm]
    return "\n".join(lines)


def explain(
    sources: Annotated[
        list[str] | None, typer.Argument(metavar="[FILE ...|-]", help="files to read; - or none = stdin")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array, one object per item")] = False,
) -> None:
    """Explain pasted istio-proxy/ztunnel log lines, curl -v output or Envoy 503 bodies."""
    from agent.explain import explain_text  # only this command pays for the parsers

    try:
        inputs = _read(list(sources or []))
    except (OSError, ValueError) as exc:
        typer.echo(f"meshprober explain: {exc}", err=True)
        raise typer.Exit(2) from None
    results = [(name, r) for name, text in inputs for r in explain_text(text)]
    if not results:
        names = ", ".join(name for name, _ in inputs)
        typer.echo(f"meshprober explain: nothing recognised in {names}: {EXPECTED}", err=True)
        raise typer.Exit(2)
    many = len(inputs) > 1
    if as_json:
        objs = [{**r.to_json(), **({"source": name} if many else {})} for name, r in results]
        typer.echo(json.dumps(objs, indent=2))
    else:
        typer.echo(render(results, many))
    raise typer.Exit(0 if all(r.diagnosis.healthy for _, r in results) else 1)
