"""graph.layout_graph (pure): namespace groups per column, one edge per path coloured by state,
and no label box overlapping another label or a node, whatever the names. One case per shape."""

from __future__ import annotations

import itertools

import pytest

from agent.serve.graph import FONT_PX, NODE_R, STATE_COLORS, EdgeSpec, Graph, layout_graph

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def spec(
    path: str, src: str = "load-test/gen", dst: str = "bookinfo/productpage:9080", state: str = "ok"
) -> EdgeSpec:
    sns, s = src.split("/")
    dns, d = dst.split("/")
    return EdgeSpec(path, sns, s, dns, d, state, "ok" if state == "ok" else "mtls_plaintext_to_strict")


def label_boxes(g: Graph) -> list[Box]:
    # A label's box: its reserved width, and the font's full height around the baseline.
    labels = [n.label for n in g.nodes] + [grp.caption for grp in g.groups]
    return [(lb.x, lb.y - FONT_PX, lb.x + lb.width, lb.y + FONT_PX * 0.3) for lb in labels]


def node_boxes(g: Graph) -> list[Box]:
    return [(n.cx - NODE_R, n.cy - NODE_R, n.cx + NODE_R, n.cy + NODE_R) for n in g.nodes]


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


LONG = "a-very-long-workload-name-that-goes-on-and-on-and-on-forever"
CASES = {
    "healthy-one-path-no-finding": ([spec("p1")], {"ok": 1}, 2),
    "one-failing": ([spec("p1", state="fail"), spec("p2", src="other/gen")], {"fail": 1, "ok": 1}, 3),
    "seed-shape-same-workload-name-in-three-namespaces": (
        [spec(f"{ns}-to-pp", src=f"{ns}/traffic-generator", state="fail" if ns != "traffic" else "ok")
         for ns in ("bookinfo", "load-test", "traffic")],
        {"fail": 2, "ok": 1}, 4,
    ),
    "long-names-are-clipped-and-still-apart": (
        [spec("p1", src=f"ns-{LONG}/{LONG}", dst=f"dst-{LONG}/{LONG}:8080"),
         spec("p2", src=f"ns-{LONG}/{LONG}-2", dst=f"dst-{LONG}/{LONG}-2:8080", state="agent")],
        {"ok": 1, "agent": 1}, 2,
    ),
    "parallel-paths-between-one-pair": (
        [spec("p1"), spec("p2", state="fail"), spec("p3", state="pending")],
        {"ok": 1, "fail": 1, "pending": 1}, 2,
    ),
    "many-namespaces": (
        [spec(f"p{i}", src=f"ns{i % 7}/w{i}", dst=f"svc{i % 5}/s{i % 3}:80", state="fail" if i % 4 == 0 else "ok")
         for i in range(40)],
        {"ok": 30, "fail": 10}, 12,
    ),
}  # fmt: skip


@pytest.mark.parametrize(("specs", "states", "groups"), CASES.values(), ids=CASES.keys())
def test_layout(specs: list[EdgeSpec], states: dict[str, int], groups: int) -> None:
    g = layout_graph(specs)
    assert len(g.edges) == len(specs)
    assert {e.path for e in g.edges} == {s.path for s in specs}
    for state, n in states.items():
        assert sum(1 for e in g.edges if e.color == STATE_COLORS[state]) == n, state
    assert len(g.groups) == groups
    labels, nodes = label_boxes(g), node_boxes(g)
    for a, b in itertools.combinations(labels, 2):
        assert not overlap(a, b), (a, b)
    for a in labels:
        assert a[0] >= 0 and a[2] <= g.width and a[1] >= 0 and a[3] <= g.height, a
        for n in nodes:
            assert not overlap(a, n), (a, n)
    assert len({e.d for e in g.edges}) == len(g.edges)  # parallel paths never share one curve
    for lb in (n.label for n in g.nodes):
        assert len(lb.text) <= 44 and (lb.text == lb.full or lb.text.endswith("…"))


def test_failing_edges_drawn_last() -> None:
    g = layout_graph([spec("a", state="fail"), spec("b", src="x/y"), spec("c", src="z/w", state="pending")])
    assert [e.state for e in g.edges] == ["ok", "pending", "fail"]


def test_empty() -> None:
    g = layout_graph([])
    assert g.edges == [] and g.nodes == [] and g.height > 0
