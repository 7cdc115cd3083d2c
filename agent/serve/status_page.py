"""Server-rendered status page: every path with its verdict and summary, and an SVG graph of
sources -> targets colored by health. Jinja2 with autoescape on; no JavaScript, no front-end build.
Layout is computed here (pure), the template only draws it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from agent.config import PathConfig
from agent.istio.control_plane import ControlPlane
from agent.serve.reload import ConfigStatus
from agent.serve.store import PathSnapshot

TEMPLATES = Path(__file__).parent / "templates"
COLORS = {"ok": "#2e7d32", "fail": "#c62828", "pending": "#9e9e9e"}
ROW_H = 34
WIDTH = 820
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Row:
    name: str
    source: str
    target: str
    state: str  # ok | fail | pending
    verdict: str
    category: str
    confidence: str
    summary: str
    finished: str
    policy: str


@dataclass(frozen=True)
class Node:
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str
    title: str


def _state(snap: PathSnapshot) -> str:
    if snap.latest is None:
        return "pending"
    return "ok" if snap.latest.healthy else "fail"


def _row(snap: PathSnapshot, cfg: PathConfig | None) -> Row:
    latest = snap.latest
    source = (
        f"{cfg.source.namespace}/{cfg.source.label}"
        if cfg
        else (f"{latest.source.namespace}/{latest.source.workload}" if latest else "?")
    )
    target = cfg.to.target_url if cfg else (latest.target if latest else "?")
    policy = ""
    if snap.policy is not None:
        policy = f"{snap.policy.status}: client {snap.policy.client_mode}, server {snap.policy.server_mode}"
    if latest is None:
        return Row(snap.name, source, target, "pending", "pending", "", "", "not probed yet", "", policy)
    d = latest.diagnosis
    finished = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(latest.finished_at))
    return Row(
        snap.name, source, target, _state(snap), d.verdict.value, d.category.value, d.confidence.value,
        d.summary, finished, policy,
    )  # fmt: skip


def _target_label(row: Row) -> str:
    # scheme://host[:port]/path -> host[:port]: one node per destination, not per URL path;
    # the cluster-local suffix adds length, not information.
    host = row.target.split("/")[2] if row.target.count("/") >= 2 else row.target
    return host.replace(".svc.cluster.local", "")


def layout(rows: Sequence[Row]) -> tuple[list[Node], list[Node], list[Edge], int]:
    """Two columns (sources left, targets right) and one edge per source->target, worst state wins."""
    sources = sorted({r.source for r in rows})
    targets = sorted({_target_label(r) for r in rows})
    height = max(len(sources), len(targets), 1) * ROW_H + 20
    src_nodes = {s: Node(s, 10, 20 + i * ROW_H) for i, s in enumerate(sources)}
    dst_nodes = {t: Node(t, WIDTH - 290, 20 + i * ROW_H) for i, t in enumerate(targets)}
    rank = {"fail": 2, "pending": 1, "ok": 0}
    worst: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for r in rows:
        key = (r.source, _target_label(r))
        state, names = worst.get(key, ("ok", []))
        worst[key] = (r.state if rank[r.state] > rank[state] else state, [*names, f"{r.name}: {r.verdict}"])
    edges = [
        Edge(250, src_nodes[s].y - 4, WIDTH - 298, dst_nodes[t].y - 4, COLORS[state], "; ".join(names))
        for (s, t), (state, names) in sorted(worst.items())
    ]
    return list(src_nodes.values()), list(dst_nodes.values()), edges, height


def render_status_page(
    snapshots: Sequence[PathSnapshot],
    paths: Mapping[str, PathConfig],
    config_status: ConfigStatus | None,
    refresh_s: int = 15,
    control_plane: ControlPlane | None = None,
) -> str:
    rows = [_row(s, paths.get(s.name)) for s in snapshots]
    sources, targets, edges, height = layout(rows)
    counts = {state: sum(1 for r in rows if r.state == state) for state in COLORS}
    return _env.get_template("status.html.j2").render(
        rows=rows, sources=sources, targets=targets, edges=edges, width=WIDTH, height=height,
        colors=COLORS, counts=counts, config=config_status, refresh_s=max(5, refresh_s),
        now=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        plane=control_plane,
    )  # fmt: skip
