"""The path page (/paths/NAME) and the bundle routes: the view model (timeline, fix, policy steps)
table-driven, then the routes over real HTTP (aiohttp on 127.0.0.1): page, raw evidence, the
.tar.gz that `meshprober diagnose` accepts after unpacking, route classes under a token."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from serve_fakes import CONFLICT, make_result
from test_serve_api import TOKEN, Harness, serve  # noqa: F401  (the shared API fixture)

from agent.evidence import PolicyView
from agent.model import Diagnosis, Remedy, Verdict
from agent.results import CheckResult
from agent.serve.path_page import apply_line, fix_of, path_view, render_path_page, timeline

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
SEED_BUNDLE = TESTDATA / "fixture_bundles" / "seed_with_resources"
PATCH = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nspec:\n  host: productpage\n"
FIXED = PolicyView(**{**CONFLICT.__dict__, "remedy_text": "set ISTIO_MUTUAL", "remedy_patch": PATCH})
OK_POLICY = PolicyView(**{**CONFLICT.__dict__, "status": "OK", "client_mode": "ISTIO_MUTUAL"})


def with_remedy(r: CheckResult, text: str = "patch the DR", patch: str | None = PATCH) -> CheckResult:
    d = r.diagnosis
    return CheckResult(
        **{**r.__dict__, "diagnosis": Diagnosis(**{**d.__dict__, "remedy": Remedy(text, patch)})}
    )


def results(*verdicts: Verdict) -> list[CheckResult]:
    out = []
    for i, v in enumerate(verdicts):
        r = make_result("broken", v)
        out.append(CheckResult(**{**r.__dict__, "started_at": 1000.0 + i, "finished_at": 1000.5 + i}))
    return out


OK, BAD, AGENT = Verdict.OK, Verdict.MTLS_PLAINTEXT_TO_STRICT, Verdict.PROBE_FAILED
TIMELINES = {
    "no-results": ([], []),
    "healthy-no-change": ([OK, OK, OK], [("ok", 3)]),
    "turned-red": ([OK, OK, BAD], [("mtls_plaintext_to_strict", 1), ("ok", 2)]),
    "flapping": ([BAD, OK, BAD, BAD, AGENT], [("probe_failed", 1), ("mtls_plaintext_to_strict", 2), ("ok", 1),
                                              ("mtls_plaintext_to_strict", 1)]),
}  # fmt: skip


@pytest.mark.parametrize(("verdicts", "want"), TIMELINES.values(), ids=TIMELINES.keys())
def test_timeline_is_verdict_changes_newest_first(
    verdicts: list[Verdict], want: list[tuple[str, int]]
) -> None:
    assert [(c.verdict, c.probes) for c in timeline(results(*verdicts))] == want


FIXES = {
    "healthy-no-finding": (make_result("p"), OK_POLICY, None),
    "probe-remedy-wins": (with_remedy(make_result("p", BAD)), FIXED, ("patch the DR", "diagnosis")),
    "policy-remedy-when-probe-has-none": (make_result("p", BAD), FIXED, ("set ISTIO_MUTUAL", "policy")),
    "conflict-before-traffic-fails": (make_result("p"), FIXED, ("set ISTIO_MUTUAL", "policy")),
    "not-probed-yet-conflict": (None, FIXED, ("set ISTIO_MUTUAL", "policy")),
    "failing-without-any-remedy": (make_result("p", Verdict.APP_ERROR), None, None),
}


@pytest.mark.parametrize(("latest", "policy", "want"), FIXES.values(), ids=FIXES.keys())
def test_fix(latest: CheckResult | None, policy: PolicyView | None, want: tuple[str, str] | None) -> None:
    fix = fix_of(latest, policy)
    assert (fix.text, fix.source) == want if fix else want is None
    if fix is not None:
        assert fix.apply == apply_line(PATCH)


def test_apply_line_is_a_quoted_heredoc() -> None:
    assert apply_line("a: 1") == "kubectl apply -f - <<'EOF'\na: 1\nEOF"
    assert apply_line("a: 1\n") == "kubectl apply -f - <<'EOF'\na: 1\nEOF"


def test_page_renders_everything_escaped() -> None:
    bad = with_remedy(make_result("broken", BAD, summary="<script>x</script>"), text="<b>fix</b>")
    policy = PolicyView(
        **{**FIXED.__dict__, "explanation": "client a -> b; the DR sets DISABLE; server STRICT"}
    )
    html = render_path_page(
        path_view("broken", None, [make_result("broken"), bad], policy, ["curl.exit"], "b1")
    )
    assert "<script>x" not in html and "&lt;script&gt;x" in html and "&lt;b&gt;fix" in html
    for needle in ('id="patch"', 'data-copy="patch"', 'data-copy="apply"', "kubectl apply -f - &lt;&lt;&#39;EOF&#39;",
                   "bookinfo/destrule-productpage", "bookinfo/default", "<li>the DR sets DISABLE</li>",
                   'href="../api/v1/paths/broken/bundle.tar.gz"', 'href="../api/v1/paths/broken/evidence/curl.exit"',
                   'class="change"', 'src="../static/meshprober.js"'):  # fmt: skip
        assert needle in html, needle
    assert html.count('class="change"') == 2


def test_path_page_and_bundle_routes(serve: Callable[..., Harness], tmp_path: Path) -> None:  # noqa: F811
    bundle = tmp_path / "evidence" / "broken" / "20260101T000000-abc"
    shutil.copytree(SEED_BUNDLE, bundle)
    (bundle / "escape").symlink_to("/etc/hostname")
    h = serve()
    with h.client() as c:
        assert c.get("/paths/broken").status_code == 200  # nothing probed yet: still a page
        assert c.get("/api/v1/paths/broken/bundle.tar.gz").status_code == 404
        h.store.record(with_remedy(make_result("broken", BAD, bundle_dir=bundle)))
        h.store.record(with_remedy(make_result("broken", BAD)))  # the latest bundle is still the earlier one
        page = c.get("/paths/broken")
        raw = c.get("/api/v1/paths/broken/evidence/resources/40-destinationrules.yaml")
        escape = c.get("/api/v1/paths/broken/evidence/escape")
        traversal = c.get("/api/v1/paths/broken/evidence/..%2F..%2F..%2Fetc%2Fhostname")
        archive = c.get("/api/v1/paths/broken/bundle.tar.gz")
        unknown = c.get("/paths/nope")
        css = c.get("/static/meshprober.css")
        not_static = c.get("/static/..%2Fapi.py")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="patch"' in page.text and "20260101T000000-abc" in page.text and "escape" not in page.text
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/plain")
    assert raw.headers["x-content-type-options"] == "nosniff" and "DestinationRule" in raw.text
    assert escape.status_code == 404 and traversal.status_code == 404 and unknown.status_code == 404
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert not_static.status_code == 404
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/gzip"
    assert 'filename="broken-bundle.tar.gz"' in archive.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        names = tar.getnames()
        assert all(n == bundle.name or n.startswith(bundle.name + "/") for n in names), names
        assert f"{bundle.name}/escape" not in names
        tar.extractall(tmp_path / "unpacked", filter="data")
    out = subprocess.run(
        [sys.executable, "-m", "agent", "diagnose", str(tmp_path / "unpacked" / bundle.name), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr  # exit 1: the bundle shows an unhealthy path
    assert json.loads(out.stdout)["verdict"] == "mtls_plaintext_to_strict"


def test_path_routes_are_api_class_under_a_token(serve: Callable[..., Harness]) -> None:  # noqa: F811
    """Under a token, the browser's routes open to loopback peers only (a port-forward); which routes
    are which, for loopback and other peers, is tested in test_serve_api_security.needs_token's table."""
    h = serve(token=TOKEN)
    with h.client() as anon, h.client(TOKEN) as authed:
        for route in ("/api/v1/paths", "/api/v1/paths/broken/evidence"):
            assert anon.get(route).status_code == 401, route  # the JSON API: the token always
        assert anon.get("/paths/broken").status_code == 200  # loopback peer: the page opens
        assert authed.get("/paths/broken").status_code == 200
        assert anon.get("/").status_code == 200 and anon.get("/static/meshprober.js").status_code == 200


def test_readme_shows_the_screenshots() -> None:
    """tools/screenshots.py writes these (tests/e2e/test_status_pages_demo.py runs it); kept small."""
    readme = (TESTDATA.parent.parent / "README.md").read_text()
    for name in ("overview.png", "path.png"):
        assert f"(docs/screenshots/{name})" in readme
        data = (TESTDATA.parent.parent / "docs" / "screenshots" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 400_000
