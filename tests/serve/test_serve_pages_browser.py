"""The status pages in a real headless Chromium (tools/cdp.py), on an agent API serving a store with
many paths: no label box of the graph overlaps another or a node as drawn, the filter box hides rows
and edges, the auto-refresh keeps the scroll position and the filter. No lab needed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serve_fakes import make_result

from agent.config import PathConfig
from agent.model import Verdict
from agent.serve.api import Api, ApiContext
from agent.serve.api_server import ApiServer
from agent.serve.metrics import StoreCollector, make_registry
from agent.serve.store import ResultStore
from tests.support.browser import edge_point, graph_overlaps, needs_chromium
from tools.cdp import Browser

pytestmark = needs_chromium
LONG = "a-workload-with-a-name-long-enough-to-be-clipped-in-the-graph"


def many_paths() -> dict[str, PathConfig]:
    paths = {}
    for i in range(36):
        ns = f"team-{i % 6}" if i % 9 else f"ns-{LONG}"[:63]
        workload = "traffic-generator" if i % 3 else f"{LONG}-{i}"[:63]
        service = f"svc-{i % 5}" if i % 7 else f"{LONG}"[:60]
        paths[f"path-{i:02d}"] = PathConfig.model_validate({
            "name": f"path-{i:02d}", "from": {"namespace": ns, "workload": workload},
            "to": {"url": f"http://{service}.shop-{i % 4}.svc.cluster.local:{8080 + i % 2}/"},
        })  # fmt: skip
    return paths


@pytest.fixture(scope="module")
def agent_url() -> Iterator[str]:
    paths = many_paths()
    store = ResultStore()
    store.set_paths(paths)
    for i, name in enumerate(paths):
        if i % 5:  # some stay pending
            verdict = [Verdict.OK, Verdict.MTLS_PLAINTEXT_TO_STRICT, Verdict.PROBE_FAILED][i % 3]
            store.record(make_result(name, verdict))
    ctx = ApiContext(store, make_registry(StoreCollector(store, lambda: paths)), lambda: paths,
                     lambda n: make_result(n), lambda p: make_result(p))  # fmt: skip
    server = ApiServer(Api(ctx), "127.0.0.1", 0)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(width=1280, height=700) as b:
        yield b


def fresh(browser: Browser, url: str) -> None:
    """Open `url` with no scroll position or filter remembered from an earlier test."""
    browser.open(url)
    # The page saves its state on every scroll event, and restoring a saved scroll fires one a frame
    # later: empty the filter, scroll to the top, let the events run, and only then forget it all.
    browser.evaluate(
        "(async () => { const f = document.getElementById('filter');"
        " if (f) { f.value = ''; f.dispatchEvent(new Event('input')); } window.scrollTo(0, 0);"
        " await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));"
        " sessionStorage.clear(); return true; })()"
    )
    browser.open(url)


def test_big_graph_has_no_overlapping_labels(agent_url: str, browser: Browser) -> None:
    fresh(browser, f"{agent_url}/")
    count, overlaps = graph_overlaps(browser)
    assert count >= 20  # node labels and namespace captions of both columns
    assert overlaps == []


def test_filter_box_hides_rows_and_edges(agent_url: str, browser: Browser) -> None:
    fresh(browser, f"{agent_url}/")
    browser.evaluate("document.getElementById('filter').focus()")
    browser.page.call("Input.insertText", text="team-2")
    shown = browser.evaluate("""(() => ({
      rows: Array.from(document.querySelectorAll('tr.path-row:not(.hidden)')).map(r => r.textContent),
      edges: document.querySelectorAll('a.edge-link:not(.hidden)').length,
      groups: Array.from(document.querySelectorAll('tbody.ns-group:not(.hidden)')).map(g => g.dataset.namespace),
    }))()""")
    assert shown["rows"] and all("team-2" in r for r in shown["rows"])
    assert shown["edges"] == len(shown["rows"]) and shown["groups"] == ["team-2"]


def test_q_parameter_fills_the_filter(agent_url: str, browser: Browser) -> None:
    fresh(browser, f"{agent_url}/?q=probe_failed")  # as a Grafana data link opens it
    assert browser.evaluate("document.getElementById('filter').value") == "probe_failed"
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('tr.path-row:not(.hidden)')).map(r => r.textContent)"
    )
    assert rows and all("probe_failed" in r for r in rows)


def test_refresh_keeps_scroll_and_filter(agent_url: str, browser: Browser) -> None:
    fresh(browser, f"{agent_url}/?refresh=2")
    browser.evaluate("window.scrollTo(0, 600)")
    browser.evaluate("const f = document.getElementById('filter'); f.value = 'path-1'; "
                     "f.dispatchEvent(new Event('input'))")  # fmt: skip
    y_before = browser.evaluate("window.scrollY")
    browser.evaluate("window.marker = 'before the refresh'")
    browser.page.events.clear()
    browser.wait_load(timeout=15)  # the page reloads itself
    assert browser.evaluate("window.marker === undefined")  # a real reload happened
    assert browser.evaluate("document.getElementById('filter').value") == "path-1"
    assert abs(browser.evaluate("window.scrollY") - y_before) < 2, y_before


def test_edge_link_points_at_its_path_page(agent_url: str, browser: Browser) -> None:
    fresh(browser, f"{agent_url}/")
    point = edge_point(browser, 'a.edge-link[data-state="fail"]:last-of-type path.edge', at=0.1)
    browser.click_and_wait(point["x"], point["y"])
    assert browser.evaluate("location.pathname") == f"/paths/{point['path']}"
    assert browser.evaluate("document.querySelector('.verdict').textContent") == "mtls_plaintext_to_strict"
