"""Status page: every path with verdict and summary, an SVG graph colored by health, escaping,
self-refresh; plus a headless Chromium render of `/` when Debian chromium is installed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_fakes import CONFLICT, make_path, make_result

from agent.model import Verdict
from agent.serve.agent import Agent
from agent.serve.reload import ConfigStatus
from agent.serve.status_page import COLORS, Row, group_rows, render_status_page
from agent.serve.store import ResultStore

PATHS = {p.name: p for p in (make_path("broken"), make_path("healthy"), make_path("new", workload="other"))}


def page(results: list[object], status: ConfigStatus | None = None) -> str:
    store = ResultStore()
    store.set_paths(PATHS)
    for r in results:
        store.record(r)  # type: ignore[arg-type]
    store.set_policy("broken", CONFLICT)
    return render_status_page(store.snapshot(), PATHS, status)


@pytest.mark.parametrize(
    ("results", "present", "absent"),
    [
        ([], ['class="state pending"', "not probed yet", "0 healthy", COLORS["pending"]], [COLORS["fail"] + '"']),
        (
            [make_result("healthy"), make_result("new")],
            ['class="state ok">ok<', COLORS["ok"], "2 healthy"],
            ['stroke="' + COLORS["fail"]],
        ),
        (
            [make_result("broken", Verdict.MTLS_PLAINTEXT_TO_STRICT, summary="DR disables TLS to a STRICT server")],
            ['class="state fail">mtls_plaintext_to_strict<', "DR disables TLS to a STRICT server",
             'stroke="' + COLORS["fail"], "CONFLICT: client DISABLE, server STRICT"],
            [],
        ),
    ],
    ids=["nothing-probed-yet", "all-healthy", "one-broken"],
)  # fmt: skip
def test_page_shows_paths_and_graph(results: list[object], present: list[str], absent: list[str]) -> None:
    html = page(results)
    assert '<meta http-equiv="refresh"' in html
    assert html.count('class="path-row"') == 3
    assert html.count('class="edge"') == 3  # one edge per source -> target host pair
    assert '<svg id="graph"' in html
    for needle in present:
        assert needle in html, needle
    for needle in absent:
        assert needle not in html, needle


def test_page_escapes_everything() -> None:
    evil = make_result("broken", Verdict.APP_ERROR, summary='<script>alert(1)</script>" onload="x')
    html = page([evil])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '" onload="x' not in html


def test_page_shows_rejected_reload() -> None:
    status = ConfigStatus(True, "agent.yaml", 1.0, "agent.yaml: paths[0].to.port: must be 1-65535", 2.0)
    html = page([], status)
    assert 'id="config-error"' in html and "paths[0].to.port: must be 1-65535" in html


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture
def running_agent(tmp_path: Path) -> Iterator[Agent]:
    from serve_fakes import StandInCheck

    config = tmp_path / "agent.yaml"
    config.write_text(
        "paths:\n"
        "  - {name: broken, from: {namespace: load-test, workload: gen}, to: {url: 'http://productpage.bookinfo:9080/'}}\n"
        "  - {name: healthy, from: {namespace: traffic, workload: gen}, to: {url: 'http://productpage.bookinfo:9080/'}}\n"
        "api: {listen: '127.0.0.1:0'}\n"
    )
    check = StandInCheck()
    check.verdicts["broken"] = Verdict.MTLS_PLAINTEXT_TO_STRICT
    agent = Agent(config, check, lambda p: CONFLICT if p.name == "broken" else None)
    agent.start(schedule=False)
    agent.run_path("broken")
    agent.run_path("healthy")
    yield agent
    agent.stop()


def test_agent_serves_status_page(running_agent: Agent) -> None:
    html = httpx.get(f"{running_agent.url}/", timeout=10).text
    assert "mtls_plaintext_to_strict" in html and 'stroke="' + COLORS["fail"] in html


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (/usr/bin/chromium)")
def test_status_page_renders_in_headless_chromium(running_agent: Agent, tmp_path: Path) -> None:
    argv = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=2000", "--dump-dom", f"{running_agent.url}/",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    dom = proc.stdout
    assert '<table id="paths">' in dom, proc.stderr[-2000:]
    assert dom.count('class="path-row"') == 2
    assert '<svg id="graph"' in dom and dom.count('class="edge"') == 2
    assert "mtls_plaintext_to_strict" in dom


def _row(name: str, ns: str, state: str) -> Row:
    return Row(name, ns, f"{ns}/gen", "http://x:80/", state, state, "", "", "", "", "")


GROUPINGS = {
    "healthy-no-finding": ([("a", "ns1", "ok"), ("b", "ns2", "ok")], [("ns1", ["a"]), ("ns2", ["b"])]),
    "failing-namespace-first": (
        [("a", "ns1", "ok"), ("b", "ns2", "fail"), ("c", "ns2", "ok")], [("ns2", ["b", "c"]), ("ns1", ["a"])],
    ),
    "failing-rows-first-then-agent-then-pending": (
        [("a", "ns", "ok"), ("b", "ns", "pending"), ("c", "ns", "agent"), ("d", "ns", "fail")],
        [("ns", ["d", "c", "b", "a"])],
    ),
    "most-failing-namespace-first": (
        [("a", "ns1", "fail"), ("b", "ns2", "fail"), ("c", "ns2", "fail")], [("ns2", ["b", "c"]), ("ns1", ["a"])],
    ),
}  # fmt: skip


@pytest.mark.parametrize(("rows", "want"), GROUPINGS.values(), ids=GROUPINGS.keys())
def test_rows_grouped_by_namespace_failing_first(
    rows: list[tuple[str, str, str]], want: list[tuple[str, list[str]]]
) -> None:
    groups = group_rows([_row(*r) for r in rows])
    assert [(g.namespace, [r.name for r in g.rows]) for g in groups] == want
