"""Human output of `demo`: a table of paths and the remedies of failing ones (`probe` prints one
result with `diagnose.render` instead)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from agent.results import CheckResult

_STYLE = {"high": "red", "medium": "yellow", "low": "yellow"}  # a failing verdict, by confidence
PIPE_WIDTH = 200  # rich assumes 80 columns when not a terminal: too narrow for this table
_KEEP_WHOLE = {"PATH", "STATUS", "VERDICT", "CONFIDENCE"}  # names users grep or copy: never folded


def make_console(stderr: bool = False) -> Console:
    """A rich Console; piped or redirected output gets a wide fixed width instead of 80 columns."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=PIPE_WIDTH)


def short_target(url: str) -> str:
    return url.replace(".svc.cluster.local", "")


def results_table(results: Sequence[CheckResult]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    for column in ("PATH", "SOURCE", "TARGET", "STATUS", "VERDICT", "CONFIDENCE", "SUMMARY"):
        table.add_column(column, overflow="fold", no_wrap=column in _KEEP_WHOLE)
    for r in results:
        d = r.diagnosis
        style = "green" if d.healthy else _STYLE.get(d.confidence.value, "red")
        table.add_row(
            r.path,
            f"{r.source.namespace}/{r.source.pod or r.source.workload}",
            short_target(r.target),
            str(r.http_status or "-"),
            f"[{style}]{d.verdict.value}[/]",
            d.confidence.value,
            d.summary,
        )
    return table


def print_results(console: Console, results: Sequence[CheckResult], remedies: bool = True) -> None:
    console.print(results_table(results))
    if not remedies:
        return
    shown: set[str] = set()
    for r in results:
        remedy = r.diagnosis.remedy
        if r.diagnosis.healthy or remedy is None or remedy.text in shown:
            continue
        shown.add(remedy.text)
        console.print(
            f"\n[bold]Fix for {r.path}[/] ({r.diagnosis.verdict.value}): {remedy.text}", highlight=False
        )
        if remedy.patch:
            console.print(remedy.patch, highlight=False, markup=False)
