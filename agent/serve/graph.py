"""Layout of the status page's graph: sources (left) and destinations (right), each column grouped
by namespace, one clickable edge per path. Pure: no I/O, no templates; the template only draws it.

Labels never overlap nodes or each other by construction: every label sits on its own row of its
own column, beside its node and outside the band the edges cross, and its drawn width is fixed
(`textLength`) to the width the layout reserved for it, whatever font the browser picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CHAR_W = 7.2  # px per character reserved for a label; the template pins text to it with textLength
FONT_PX = 12
ROW_H = 26  # one node per row; > 2x the font size so label boxes cannot touch vertically
GROUP_HEAD_H = 24  # the namespace caption above a group's nodes
GROUP_GAP = 14
PAD = 10
NODE_R = 5
LABEL_GAP = 8  # between a node and its label
EDGE_BAND = 260  # horizontal room the edges cross between the two columns
MAX_LABEL = 44  # characters; longer labels are cut with an ellipsis (the full text is the tooltip)

STATE_COLORS = {"ok": "#2e7d32", "fail": "#c62828", "agent": "#ef6c00", "pending": "#9e9e9e"}


@dataclass(frozen=True)
class EdgeSpec:
    """One configured path as the graph needs it."""

    path: str
    source_ns: str
    source: str  # workload label
    dest_ns: str  # "external" when the target names no in-mesh service
    dest: str  # "service:port" or host[:port]
    state: str  # a STATE_COLORS key
    verdict: str
    search: str = ""  # what the page's filter box matches against


@dataclass(frozen=True)
class Label:
    text: str
    full: str
    x: float  # left edge of the label box
    y: float  # baseline
    width: float


@dataclass(frozen=True)
class GraphNode:
    key: str
    cx: float
    cy: float
    label: Label


@dataclass(frozen=True)
class Group:
    namespace: str
    side: str  # "source" | "dest"
    x: float
    y: float
    width: float
    height: float
    caption: Label


@dataclass(frozen=True)
class GraphEdge:
    path: str
    d: str  # SVG path data (a cubic curve)
    color: str
    state: str
    title: str
    search: str


@dataclass(frozen=True)
class Graph:
    width: float
    height: float
    groups: list[Group]
    nodes: list[GraphNode]
    edges: list[GraphEdge]


def clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def label_width(text: str) -> float:
    return round(len(text) * CHAR_W, 1)


def _column(
    entries: Sequence[tuple[str, str]], side: str, left: float
) -> tuple[list[Group], dict[tuple[str, str], GraphNode], float, float]:
    """Lay out one column of (namespace, name) nodes from x=left; returns groups, nodes, width, height."""
    by_ns: dict[str, list[str]] = {}
    for ns, name in sorted(set(entries)):
        by_ns.setdefault(ns, []).append(name)
    captions = {ns: clip(f"namespace {ns}") for ns in by_ns}
    widest = max(
        [label_width(clip(n)) for names in by_ns.values() for n in names]
        + [label_width(c) - 2 * NODE_R - LABEL_GAP for c in captions.values()]
        + [0.0]
    )
    col_w = PAD + widest + LABEL_GAP + 2 * NODE_R + PAD
    groups: list[Group] = []
    nodes: dict[tuple[str, str], GraphNode] = {}
    y: float = PAD
    for ns, names in by_ns.items():
        top = y
        caption = captions[ns]
        y += GROUP_HEAD_H
        for name in names:
            text = clip(name)
            cy = y + ROW_H / 2
            baseline = cy + FONT_PX * 0.35  # the glyphs' middle on the node's centre
            if side == "source":  # label, then the node at the column's inner (right) edge
                cx = left + col_w - PAD - NODE_R
                lx = cx - NODE_R - LABEL_GAP - label_width(text)
            else:  # the node at the inner (left) edge, then the label
                cx = left + PAD + NODE_R
                lx = cx + NODE_R + LABEL_GAP
            nodes[(ns, name)] = GraphNode(
                f"{side}:{ns}/{name}", cx, cy, Label(text, name, lx, baseline, label_width(text))
            )
            y += ROW_H
        y += PAD / 2
        caption_label = Label(caption, f"namespace {ns}", left + PAD, top + FONT_PX + 6, label_width(caption))
        groups.append(Group(ns, side, left + 2, top, col_w - 4, y - top, caption_label))
        y += GROUP_GAP
    return groups, nodes, col_w, y


def layout_graph(specs: Sequence[EdgeSpec]) -> Graph:
    """Sources left, destinations right, grouped by namespace; edges as curves between the columns."""
    src_groups, src_nodes, src_w, src_h = _column([(s.source_ns, s.source) for s in specs], "source", 0.0)
    dst_left = src_w + EDGE_BAND
    dst_groups, dst_nodes, dst_w, dst_h = _column([(s.dest_ns, s.dest) for s in specs], "dest", dst_left)
    seen: dict[tuple[str, str, str, str], int] = {}
    edges: list[GraphEdge] = []
    order = {"fail": 0, "agent": 1, "pending": 2, "ok": 3}
    # Failing edges last, so they are drawn on top of healthy ones that share a node.
    for s in sorted(specs, key=lambda s: (-order.get(s.state, 3), s.path)):
        a = src_nodes[(s.source_ns, s.source)]
        b = dst_nodes[(s.dest_ns, s.dest)]
        key = (s.source_ns, s.source, s.dest_ns, s.dest)
        n = seen.get(key, 0)
        seen[key] = n + 1
        bend = (n + 1) // 2 * 14 * (1 if n % 2 else -1)  # parallel paths fan out: 0, -14, +14, -28 ...
        x1, x2 = a.cx + NODE_R, b.cx - NODE_R
        mid = (x1 + x2) / 2
        d = (
            f"M{x1:.1f},{a.cy:.1f} C{mid:.1f},{a.cy + bend:.1f} {mid:.1f},{b.cy + bend:.1f} "
            f"{x2:.1f},{b.cy:.1f}"
        )
        color = STATE_COLORS.get(s.state, STATE_COLORS["pending"])
        title = f"{s.path}: {s.verdict}"
        edges.append(GraphEdge(s.path, d, color, s.state, title, (s.search or title).lower()))
    nodes = [*src_nodes.values(), *dst_nodes.values()]
    height = max(src_h, dst_h, 2 * PAD + ROW_H)
    return Graph(dst_left + dst_w, height, [*src_groups, *dst_groups], nodes, edges)
