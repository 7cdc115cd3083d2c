"""The status pages on `meshprober demo` (the seed lab, real Envoy) in headless Chromium: open the
overview and a path page, click a red edge through to its page and see the patch, measure that no
label box of the graph overlaps another, download the latest bundle and diagnose it; and
tools/screenshots.py (the README's screenshots) runs against the same demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.browser import edge_point, element_center, graph_overlaps, needs_chromium, wait_for_file
from tools.cdp import Browser
from tools.screenshots import api_token, demo, wait_for_failing_path

pytestmark = [pytest.mark.lab, needs_chromium]
BROKEN = {"bookinfo-to-productpage", "load-test-to-productpage"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with demo() as base:
        wait_for_failing_path(base)
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(width=1280, height=900) as b:
        yield b


def test_overview_and_path_page(demo_url: str, browser: Browser) -> None:
    browser.open(f"{demo_url}/")
    rows = browser.evaluate("Array.from(document.querySelectorAll('tr.path-row')).map(r => r.textContent)")
    assert len(rows) == 4 and "mtls_plaintext_to_strict" in rows[0]  # failing first
    groups = browser.evaluate(
        "Array.from(document.querySelectorAll('tbody.ns-group')).map(g => g.dataset.namespace)"
    )
    assert set(groups) == {"bookinfo", "load-test", "traffic-generator"}
    count, overlaps = graph_overlaps(browser)
    assert count >= 8 and overlaps == []  # 6 node labels + 4 namespace captions, as drawn by Chromium
    browser.open(f"{demo_url}/paths/load-test-to-productpage")
    page = browser.evaluate("""(() => ({
      verdict: document.querySelector('.verdict').textContent,
      confidence: document.getElementById('confidence').textContent,
      evidence: document.querySelectorAll('#evidence li').length,
      dr: document.getElementById('policy-dr').textContent,
      pa: document.getElementById('policy-pa').textContent,
      steps: document.querySelectorAll('#resolution li').length,
      changes: document.querySelectorAll('#timeline tr.change').length,
      files: Array.from(document.querySelectorAll('#evidence-files a')).map(a => a.textContent),
    }))()""")
    assert page["verdict"] == "mtls_plaintext_to_strict" and page["confidence"] == "high"
    assert page["evidence"] >= 3 and page["steps"] >= 3 and page["changes"] >= 1
    assert page["dr"] == "bookinfo/destrule-productpage" and page["pa"] == "bookinfo/default"
    assert {"probe.json", "curl.stderr", "diagnosis.json"} <= set(page["files"])


def test_red_edge_leads_to_the_patch(demo_url: str, browser: Browser) -> None:
    browser.open(f"{demo_url}/")
    point = edge_point(browser, 'a.edge-link[data-state="fail"] path.edge', at=0.3)
    browser.click_and_wait(point["x"], point["y"])
    name = browser.evaluate("location.pathname").removeprefix("/paths/")
    assert name in BROKEN
    patch = yaml.safe_load(browser.evaluate("document.getElementById('patch').textContent"))
    assert patch["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL"
    assert patch["spec"]["trafficPolicy"]["loadBalancer"]["simple"] == "LEAST_CONN"  # the rest is kept
    apply = browser.evaluate("document.getElementById('apply').textContent")
    assert apply.startswith("kubectl apply -f - <<'EOF'\n") and "ISTIO_MUTUAL" in apply
    assert browser.evaluate("document.querySelector('button.copy[data-copy=\"patch\"]') !== null")


def test_download_the_bundle_and_diagnose_it(demo_url: str, browser: Browser, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.allow_downloads(downloads)
    browser.open(f"{demo_url}/paths/load-test-to-productpage")
    link = element_center(browser, "#bundle-download")
    browser.click(link["x"], link["y"])
    archive = wait_for_file(downloads, "load-test-to-productpage-bundle.tar.gz")
    with tarfile.open(archive, "r:gz") as tar:
        top = {n.split("/")[0] for n in tar.getnames()}
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert len(top) == 1
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "diagnose", str(tmp_path / "unpacked" / top.pop()), "--json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "mtls_plaintext_to_strict"
    assert out["destination_rule"] == "bookinfo/destrule-productpage"


def test_screenshot_script(demo_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, MESHPROBER_TOKEN=api_token(demo_url) or "")  # the demo's API needs its token
    proc = subprocess.run(
        [sys.executable, "-m", "tools.screenshots", "--url", demo_url, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("overview.png", "path.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and 10_000 < len(data) < 600_000, (name, len(data))
