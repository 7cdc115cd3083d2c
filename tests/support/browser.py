"""Helpers for the status-page tests in a real headless Chromium (tools/cdp.py): measuring the graph's
label boxes in the page, the viewport point of an edge, waiting for a navigation. Bounded waits."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from tools.cdp import Browser, find_chromium

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (/usr/bin/chromium)"
)

# The rendered boxes of every label (getBBox of each <text>, in SVG user units) and every node.
GRAPH_BOXES = """(() => {
  const box = el => { const b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
  return {
    labels: Array.from(document.querySelectorAll('#graph text')).map(t => [t.textContent, ...box(t)]),
    nodes: Array.from(document.querySelectorAll('#graph circle.node')).map(box),
  };
})()"""


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def graph_overlaps(browser: Browser) -> tuple[int, list[str]]:
    """(number of labels, descriptions of overlapping label/label and label/node pairs) as drawn."""
    boxes: dict[str, Any] = browser.evaluate(GRAPH_BOXES)
    labels = boxes["labels"]
    bad = [
        f"{a[0]!r} overlaps {b[0]!r}" for a, b in itertools.combinations(labels, 2) if _overlap(a[1:], b[1:])
    ]
    bad += [f"{a[0]!r} overlaps node {n}" for a in labels for n in boxes["nodes"] if _overlap(a[1:], n)]
    return len(labels), bad


def edge_point(browser: Browser, selector: str, at: float = 0.5) -> dict[str, Any]:
    """Viewport coordinates of a point on the first edge matching `selector` that a click would hit:
    at fraction `at` along it, else the nearest fraction where no other edge is drawn on top."""
    return browser.evaluate(f"""(() => {{
      const p = document.querySelector({selector!r});
      p.scrollIntoView({{block: 'center'}});
      const link = p.closest('a');
      const m = p.getScreenCTM();
      const fractions = [{at}];
      for (let i = 1; i < 20; i++) fractions.push(i / 20);
      let hit = null;
      for (const f of fractions) {{
        const pt = p.getPointAtLength(p.getTotalLength() * f);
        const x = pt.x * m.a + pt.y * m.c + m.e, y = pt.x * m.b + pt.y * m.d + m.f;
        const top = document.elementFromPoint(x, y);
        hit = hit || {{x, y}};
        if (top && top.closest('a') === link) {{ hit = {{x, y}}; break; }}
      }}
      return {{x: hit.x, y: hit.y, path: link.getAttribute('data-path')}};
    }})()""")


def element_center(browser: Browser, selector: str) -> dict[str, float]:
    return browser.evaluate(f"""(() => {{
      const el = document.querySelector({selector!r});
      el.scrollIntoView({{block: 'center'}});
      const r = el.getBoundingClientRect();
      return {{x: r.x + r.width / 2, y: r.y + r.height / 2}};
    }})()""")


def wait_for_file(directory: Path, pattern: str, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in directory.glob(pattern) if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {pattern} in {directory} within {timeout:g}s: {sorted(directory.iterdir())}")
