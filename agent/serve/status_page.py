"""The status page's overview (GET /): paths grouped by namespace, failing first, a filter box, and
the graph (`graph.layout_graph`) as server-side SVG. Jinja2 with autoescape on; no CDN: the page's
CSS and script are the agent's own /static files (no inline script or style, so a strict
Content-Security-Policy of 'self' fits). The view model is built here; no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from agent.config import PathConfig
from agent.istio.control_plane import ControlPlane
from agent.model import Verdict
from agent.results import CheckResult
from agent.serve.graph import STATE_COLORS, EdgeSpec, Graph, layout_graph
from agent.serve.reload import ConfigStatus
from agent.serve.store import PathSnapshot

TEMPLATES = Path(__file__).parent / "templates"
COLORS = STATE_COLORS
STATE_ORDER = {"fail": 0, "agent": 1, "pending": 2, "ok": 3}  # failing first
env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    keep_trailing_newline=True,
)


def fmt_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def result_state(result: CheckResult | None) -> str:
    """ok | fail (a mesh verdict) | agent (the probe could not run) | pending (not probed yet)."""
    if result is None:
        return "pending"
    if result.healthy:
        return "ok"
    return "agent" if result.diagnosis.verdict is Verdict.PROBE_FAILED else "fail"


@dataclass(frozen=True)
class Row:
    name: str
    namespace: str  # the source namespace: where the path probes from
    source: str
    target: str
    state: str
    verdict: str
    category: str
    confidence: str
    summary: str
    finished: str
    policy: str
    finished_full: str = ""


@dataclass(frozen=True)
class NamespaceGroup:
    namespace: str
    rows: list[Row]
    failing: int


def _source(snap: PathSnapshot, cfg: PathConfig | None) -> tuple[str, str]:
    if cfg is not None:
        return cfg.source.namespace, cfg.source.label
    if snap.latest is not None:
        return snap.latest.source.namespace, snap.latest.source.workload
    return "?", "?"


def _row(snap: PathSnapshot, cfg: PathConfig | None) -> Row:
    latest = snap.latest
    ns, workload = _source(snap, cfg)
    target = cfg.to.target_url if cfg else (latest.target if latest else "?")
    policy = ""
    if snap.policy is not None:
        policy = f"{snap.policy.status}: client {snap.policy.client_mode}, server {snap.policy.server_mode}"
    if latest is None:
        return Row(
            snap.name,
            ns,
            f"{ns}/{workload}",
            target,
            "pending",
            "pending",
            "",
            "",
            "not probed yet",
            "",
            policy,
        )
    d = latest.diagnosis
    return Row(
        snap.name, ns, f"{ns}/{workload}", target, result_state(latest), d.verdict.value, d.category.value,
        d.confidence.value, d.summary, time.strftime("%H:%M:%S", time.gmtime(latest.finished_at)), policy,
        fmt_time(latest.finished_at),
    )  # fmt: skip


def _destination(target: str, cfg: PathConfig | None) -> tuple[str, str]:
    """(namespace, node label) of a path's destination: "service:port" in its namespace when the
    target names an in-mesh service, else the URL's host[:port] under "external"."""
    if cfg is not None:
        service, namespace, port = cfg.destination()
        if service and namespace:
            return namespace, f"{service}:{port}" if port else service
    host = target.split("/")[2] if target.count("/") >= 2 else target
    return "external", host


def search_text(r: Row) -> str:
    """What the filter box matches, for a row and for its edge alike."""
    return " ".join((r.name, r.source, r.target, r.verdict, r.category)).lower()


def group_rows(rows: Sequence[Row]) -> list[NamespaceGroup]:
    """Namespaces with failures first (most failing first), then by name; rows failing first."""
    by_ns: dict[str, list[Row]] = {}
    for r in rows:
        by_ns.setdefault(r.namespace, []).append(r)
    groups = [
        NamespaceGroup(ns, sorted(rs, key=lambda r: (STATE_ORDER[r.state], r.name)),
                       sum(1 for r in rs if r.state in ("fail", "agent")))
        for ns, rs in by_ns.items()
    ]  # fmt: skip
    return sorted(groups, key=lambda g: (-g.failing, g.namespace))


def graph_of(rows: Sequence[Row], paths: Mapping[str, PathConfig]) -> Graph:
    specs = []
    for r in rows:
        dest_ns, dest = _destination(r.target, paths.get(r.name))
        source = r.source.split("/", 1)[1]
        specs.append(EdgeSpec(r.name, r.namespace, source, dest_ns, dest, r.state, r.verdict, search_text(r)))
    return layout_graph(specs)


def render_status_page(
    snapshots: Sequence[PathSnapshot],
    paths: Mapping[str, PathConfig],
    config_status: ConfigStatus | None,
    refresh_s: int = 15,
    control_plane: ControlPlane | None = None,
) -> str:
    rows = [_row(s, paths.get(s.name)) for s in snapshots]
    counts = {state: sum(1 for r in rows if r.state == state) for state in COLORS}
    return env.get_template("status.html.j2").render(
        groups=group_rows(rows), rows=rows, graph=graph_of(rows, paths), colors=COLORS, counts=counts,
        config=config_status, refresh_s=max(2, refresh_s), now=fmt_time(time.time()), root="",
        search_text=search_text, plane=control_plane,
    )  # fmt: skip
