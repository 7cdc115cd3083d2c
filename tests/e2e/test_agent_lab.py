"""The agent on a real lab (in-process build_agent + Agent.start, HTTP API over loopback).

One module-scoped lab (seed + a slow service) and one agent; the tests run in file order, the
destructive ones last (pod deletion, API-server outage, stale sidecar).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from agent.check.context import CheckContext
from agent.kube.live import LiveCluster
from agent.results import CheckResult
from agent.serve.agent import Agent
from agent.serve.status_page import COLORS
from agent.wiring import build_agent, prime_policy
from tests.support.e2e_helpers import TESTDATA, by_path, cli, samples, wait_for
from tests.support.lab import LabHandle, run_lab
from tests.support.roundtrip import assert_diagnose_agrees, differences

pytestmark = pytest.mark.lab

PRODUCTPAGE = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
BROKEN, HEALTHY, SLOW = "bookinfo-to-productpage", "traffic-generator-to-productpage", "slow"
TOKEN = "e2e-secret-token-0123456789"
CHROMIUM = "/usr/bin/chromium"


def path(name: str, source: str, url: str, **extra: Any) -> dict[str, Any]:
    namespace, workload = source.split("/")
    return {"name": name, "from": {"namespace": namespace, "workload": workload}, "to": {"url": url}, **extra}


BASE_PATHS = [
    path(BROKEN, "bookinfo/traffic-generator", PRODUCTPAGE),
    path(HEALTHY, "traffic-generator/traffic-generator", PRODUCTPAGE),
    path(SLOW, "traffic-generator/traffic-generator", "http://slow.bookinfo.svc.cluster.local:9080/",
         interval="3s", timeout="2s"),
]  # fmt: skip


def config(tmp: Path, paths: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "defaults": {"interval": "2s", "timeout": "2s"},
        "limits": {"min_interval": "1s", "max_concurrent_probes": 4},
        "paths": paths,
        "api": {"token_file": str(tmp / "token"), "rate_limit": {"requests": 3, "window": "600s"}},
        "evidence": {"dir": str(tmp / "evidence"), "keep_per_path": 2, "max_bytes": 200_000},
    }


@dataclass
class RunningAgent:
    agent: Agent
    ctx: CheckContext
    config_path: Path
    tmp: Path
    url: str

    def get(self, route: str, token: str | None = TOKEN, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + route, headers=headers, timeout=30, **kw)

    def post(self, route: str, body: Any, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.url + route, json=body, headers=headers, timeout=60)

    def metrics(self) -> str:
        return self.get("/metrics", token=None).text

    def write_config(self, paths: list[dict[str, Any]] | None = None, raw: str | None = None) -> None:
        text = raw if raw is not None else yaml.safe_dump(config(self.tmp, paths or BASE_PATHS))
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config_path)  # atomic, as a ConfigMap update is

    def history(self, name: str) -> list[CheckResult]:
        return self.agent.store.history(name)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    yield from run_lab(TESTDATA / "e2e.yaml", tmp_path_factory.mktemp("e2e-lab"))


@pytest.fixture(scope="module")
def running(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    tmp = tmp_path_factory.mktemp("e2e-agent")
    (tmp / "token").write_text(TOKEN + "\n")
    config_path = tmp / "agent.yaml"
    config_path.write_text(yaml.safe_dump(config(tmp, BASE_PATHS)))
    assert lab.lab.kubeconfig is not None
    cluster = LiveCluster.from_kubeconfig(str(lab.lab.kubeconfig))
    agent, ctx = build_agent(config_path, cluster, reload_interval=0.5)
    agent.start(listen="127.0.0.1:0")
    try:
        prime_policy(agent, ctx)
        assert agent.url is not None
        yield RunningAgent(agent, ctx, config_path, tmp, agent.url)
    finally:
        agent.stop()
        cluster.close()


def wait_first_runs(running: RunningAgent) -> None:
    """Wait until the broken and the healthy path have a result. Tests that read verdicts call this:
    under `pytest -n 2` a worker may run them first in the module, before any scheduled run ended."""
    wait_for(
        "a result of the broken and the healthy path",
        lambda: all(running.history(n) for n in (BROKEN, HEALTHY)),
        timeout=30,
    )


def test_policy_conflict_is_exported_before_any_probe(running: RunningAgent) -> None:
    # prime_policy ran at start; the first scheduled probe may or may not have finished yet.
    conflict = by_path(running.metrics(), "meshprober_tls_conflict")
    assert conflict[BROKEN] == 1.0
    assert conflict[HEALTHY] == 0.0


def test_scheduler_runs_every_path_on_its_interval(running: RunningAgent) -> None:
    def enough() -> bool:
        runs = {n: len(running.history(n)) for n in (BROKEN, HEALTHY, SLOW)}
        return runs[BROKEN] >= 2 and runs[HEALTHY] >= 3 and runs[SLOW] >= 1

    wait_for("scheduled runs of every path", enough, timeout=30)
    healthy = running.history(HEALTHY)
    gaps = [b.started_at - a.started_at for a, b in itertools.pairwise(healthy)]
    assert all(0.5 < gap < 10 for gap in gaps), gaps  # interval 2s + jitter, never a burst
    assert running.agent.store.latest(BROKEN).diagnosis.verdict.value == "mtls_plaintext_to_strict"  # type: ignore[union-attr]
    assert running.agent.store.latest(HEALTHY).diagnosis.verdict.value == "ok"  # type: ignore[union-attr]


def test_slow_target_gets_a_verdict_within_its_deadline_and_others_keep_their_schedule(
    running: RunningAgent,
) -> None:
    slow = wait_for("a result of the slow path", lambda: running.agent.store.latest(SLOW), timeout=30)
    assert slow.diagnosis.verdict.value in {"probe_timeout", "probe_failed"}, slow.diagnosis.summary
    # Two probes of curl --max-time 2 (each exec bounded at 2 + 5 s) plus evidence: well under 20 s.
    assert slow.duration_s < 20, slow.duration_s
    window = (slow.started_at, slow.finished_at)
    during = [r for r in running.history(HEALTHY) if window[0] <= r.started_at <= window[1]]
    assert during or slow.duration_s < 3, "the healthy path did not run while the slow one did"


class HangingExecCluster:
    """The lab's real cluster, except that curl execs from `hung_pod` run `sleep 60` instead: an exec
    that never finishes on its own (what a wedged container runtime looks like to the agent)."""

    def __init__(self, inner: LiveCluster, hung_pod: str) -> None:
        self.inner = inner
        self.hung_pod = hung_pod

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def exec(self, namespace: str, pod: str, container: str, argv: Any, timeout: float) -> Any:
        if pod == self.hung_pod and argv and argv[0] == "curl":
            argv = ["sleep", "60"]
        return self.inner.exec(namespace, pod, container, argv, timeout)


def test_hung_exec_is_bounded_and_other_paths_keep_their_schedule(lab: LabHandle, tmp_path: Path) -> None:
    hung_pod = lab.pod("load-test", "traffic-generator")
    cfg = {
        "defaults": {"interval": "2s", "timeout": "1s"},
        "limits": {"min_interval": "1s"},
        "paths": [path("hung", "load-test/traffic-generator", PRODUCTPAGE, interval="30s"), BASE_PATHS[1]],
        "evidence": {"dir": str(tmp_path / "evidence")},
    }
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    assert lab.lab.kubeconfig is not None
    live = LiveCluster.from_kubeconfig(str(lab.lab.kubeconfig))
    agent, _ = build_agent(tmp_path / "agent.yaml", HangingExecCluster(live, hung_pod))  # type: ignore[arg-type]
    agent.start(serve=False)
    # Run it now rather than after its initial schedule offset (a scheduled run may win the race).
    threading.Thread(target=_run_now, args=(agent, "hung"), daemon=True).start()
    try:
        hung = wait_for("a verdict for the hung path", lambda: agent.store.latest("hung"), timeout=30)
        assert hung.diagnosis.verdict.value == "probe_failed", hung.diagnosis.summary
        assert hung.error_stage == "exec_timeout"
        assert hung.duration_s < 1 + 5 + 4  # curl's 1 s + the exec grace, with slack for a busy CI
        during = [
            r for r in agent.store.history(HEALTHY) if hung.started_at <= r.started_at <= hung.finished_at
        ]
        assert during, "the healthy path did not run while the exec hung"
        assert all(r.healthy for r in during)
        assert agent.store.errors().get("exec_timeout", 0) >= 1
    finally:
        agent.stop()
        live.close()


def test_api_token_adhoc_and_paths(running: RunningAgent) -> None:
    assert running.get("/api/v1/paths", token=None).status_code == 401
    assert running.get("/api/v1/paths", token="wrong").status_code == 401
    assert running.get("/metrics", token=None).status_code == 200
    assert running.get("/healthz", token=None).status_code == 200
    adhoc = running.post("/api/v1/probe", {"from": "bookinfo/traffic-generator", "to": PRODUCTPAGE})
    assert adhoc.status_code == 403 and "allow_adhoc" in adhoc.json()["error"]
    wait_first_runs(running)
    items = {item["path"]: item for item in running.get("/api/v1/paths").json()}
    assert set(items) == {BROKEN, HEALTHY, SLOW}
    assert items[BROKEN]["verdict"] == "mtls_plaintext_to_strict"
    assert items[BROKEN]["policy"]["status"] == "CONFLICT"
    assert items[HEALTHY]["verdict"] == "ok"


def test_probe_api_is_rate_limited(running: RunningAgent) -> None:
    codes = [running.post("/api/v1/probe", {"path": HEALTHY}).status_code for _ in range(3)]
    assert set(codes) <= {200, 409}, codes  # 409: a scheduled run of the path was in flight
    limited = running.post("/api/v1/probe", {"path": HEALTHY})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert running.get("/probe?path=" + HEALTHY).status_code == 429  # same bucket


def test_evidence_bundle_replays_and_is_bounded_and_clean(running: RunningAgent, tmp_path: Path) -> None:
    def enough_failures() -> bool:
        return sum(1 for r in running.history(BROKEN) if r.bundle_dir) >= 3

    wait_for("three failed runs with bundles", enough_failures, timeout=30)
    files = running.get(f"/api/v1/paths/{BROKEN}/evidence").json()
    assert {"probe.json", "diagnosis.json"} <= set(files), sorted(files)
    replay = tmp_path / "bundle"
    for name, text in files.items():
        (replay / name).parent.mkdir(parents=True, exist_ok=True)
        (replay / name).write_text(text)
    out = cli("diagnose", str(replay), "--json", timeout=60)
    assert out.returncode == 1, out.stderr  # a failing verdict: `diagnose` exits 1
    assert json.loads(out.stdout)["verdict"] == "mtls_plaintext_to_strict"
    # Field for field: the agent and `meshprober diagnose` share one input builder.
    assert not differences(json.loads(files["diagnosis.json"]), json.loads(out.stdout))

    # The latest bundle (a newer failure may have landed since the request: allow the last two).
    recent = [r.bundle_dir.name for r in running.history(BROKEN) if r.bundle_dir][-2:]
    assert any(name.endswith(json.loads(files["probe.json"])["request_id"][:8]) for name in recent)

    root = running.tmp / "evidence" / BROKEN
    wait_for("pruning to keep_per_path", lambda: len(list(root.iterdir())) <= 2, timeout=5)
    for bundle in root.iterdir():  # max_bytes bounds the captured data; small JSON files come on top
        size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
        assert size <= 200_000 + 20_000, (bundle, size)
    everything = "".join(
        p.read_text(errors="replace") for p in (running.tmp / "evidence").rglob("*") if p.is_file()
    )
    assert "PRIVATE KEY" not in everything
    assert TOKEN not in everything
    assert "Bearer " not in everything and "bearer " not in everything


def test_config_reload_good_then_bad(running: RunningAgent) -> None:
    before = len(running.history(BROKEN))
    extra = path("productpage-to-reviews", "bookinfo/productpage", "http://reviews.bookinfo:9080/reviews/0")
    running.write_config([*BASE_PATHS, extra])

    def added() -> dict[str, Any] | None:
        items = {i["path"]: i for i in running.get("/api/v1/paths").json()}
        return items if items.get("productpage-to-reviews", {}).get("verdict") == "ok" else None

    wait_for("the new path probed after a reload", added, timeout=20)
    assert len(running.history(BROKEN)) >= before  # results of unchanged paths were kept

    errors_before = dict(running.agent.store.errors()).get("config", 0)
    running.write_config(raw="paths:\n  - name: broken\n    from: {namespace: bookinfo}\n")

    def rejected() -> dict[str, Any] | None:
        body = running.get("/readyz", token=None).json()
        return body if body["config"]["last_reload_error"] else None

    body = wait_for("the bad reload to be reported", rejected, timeout=10)
    assert "rejected" in body["detail"] and "paths" in body["config"]["last_reload_error"]
    errors = {labels["stage"]: v for labels, v in samples(running.metrics(), "meshprober_errors_total")}
    assert errors["config"] >= errors_before + 1
    names = {i["path"] for i in running.get("/api/v1/paths").json()}
    assert "productpage-to-reviews" in names and BROKEN in names  # the running config was kept
    running.write_config()  # back to the base paths
    wait_for(
        "the good config back",
        lambda: running.get("/readyz", token=None).json()["config"]["last_reload_error"] is None,
        timeout=10,
    )


def test_status_page_in_headless_chromium(running: RunningAgent, tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is not installed")
    wait_first_runs(running)
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", running.url + "/"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    dom = proc.stdout
    assert proc.returncode == 0 and "<table" in dom, proc.stderr[-2000:]
    assert dom.count('class="path-row"') == 3
    for name in (BROKEN, HEALTHY, SLOW):
        assert name in dom
    assert '<svg id="graph"' in dom and dom.count('class="edge"') == 3  # one per source -> target
    strokes = set(re.findall(r'class="edge"[^>]*stroke="(#[0-9a-f]{6})"', dom))
    assert {COLORS["ok"], COLORS["fail"]} <= strokes, strokes  # colored by health


def test_pod_deleted_mid_probe_is_probe_failed_and_the_agent_keeps_going(
    running: RunningAgent, lab: LabHandle
) -> None:
    # A slow target keeps the probe in flight (curl --max-time 3) while the source pod is deleted.
    doomed = path("doomed", "load-test/traffic-generator", "http://slow.bookinfo.svc.cluster.local:9080/",
                  interval="60s", timeout="3s")  # fmt: skip
    running.write_config([*BASE_PATHS, doomed])
    wait_for("the doomed path scheduled", lambda: "doomed" in running.agent.scheduler.paths(), timeout=10)
    probing = threading.Thread(target=_run_now, args=(running.agent, "doomed"), daemon=True)
    probing.start()  # if the scheduler runs it first, that run is the one in flight
    wait_for("the doomed path in flight", lambda: not _idle(running.agent, "doomed"), timeout=10, every=0.05)
    time.sleep(0.5)
    deleted_at = time.time()
    gone = lab.k("delete", "pod", "-n", "load-test", lab.pod("load-test", "traffic-generator"))
    assert gone.returncode == 0, gone.stderr

    def settled() -> CheckResult | None:
        latest = running.agent.store.latest("doomed")
        return latest if latest is not None and latest.finished_at >= deleted_at else None

    result = wait_for("the in-flight probe's result", settled, timeout=30)
    probing.join(30)
    assert result.diagnosis.verdict.value == "probe_failed", result.diagnosis.summary
    assert "deleted during the probe" in result.diagnosis.summary
    assert result.error_stage == "pods"

    again = wait_for("a run after the deletion", lambda: _run_now(running.agent, "doomed"), timeout=20)
    assert again.diagnosis.verdict.value == "probe_failed"
    assert "no pods" in again.diagnosis.summary and "load-test/traffic-generator" in again.diagnosis.summary
    count = len(running.history(HEALTHY))
    wait_for("the healthy path still scheduled", lambda: len(running.history(HEALTHY)) > count, timeout=15)
    running.write_config()


def _idle(agent: Agent, name: str) -> bool:
    """True when no probe of `name` runs (its per-path lock is free)."""
    lock = agent.scheduler._locks.get(name)  # no public 'running' query on the scheduler
    return lock is None or not lock.locked()


def _run_now(agent: Agent, name: str) -> CheckResult | None:
    try:
        return agent.run_path(name)
    except Exception:  # PathBusy: the scheduled run holds it; try again
        return None


def test_api_server_goes_away_and_comes_back(running: RunningAgent, lab: LabHandle) -> None:
    emulator = lab.lab.emulator
    assert emulator is not None
    port = emulator.port
    errors_before = sum(running.agent.store.errors().values())
    emulator.stop()
    try:
        stopped_at = time.time()

        def counted() -> bool:
            latest = running.agent.store.latest(HEALTHY)
            fresh = latest is not None and latest.started_at >= stopped_at
            return fresh and sum(running.agent.store.errors().values()) > errors_before

        wait_for("a run during the outage, its error counted", counted, timeout=30)
        assert running.get("/metrics", token=None).status_code == 200
        page = running.get("/", token=None)
        assert page.status_code == 200 and "path-row" in page.text
        ready = running.get("/readyz", token=None)
        assert ready.status_code == 503 and "unreachable" in ready.json()["detail"]
        latest = running.agent.store.latest(HEALTHY)
        assert latest is not None and latest.diagnosis.verdict.value == "probe_failed", latest
        assert "unreachable" in latest.diagnosis.summary, latest.diagnosis.summary
        stages = {labels["stage"] for labels, v in samples(running.metrics(), "meshprober_errors_total") if v}
        assert "api" in stages, (stages, latest)  # an unreachable API server is counted as stage="api"
        assert latest.error_stage == "api"
    finally:
        emulator.start(port=port)
    back_at = time.time()

    def resumed() -> bool:
        latest = running.agent.store.latest(HEALTHY)
        return bool(latest and latest.started_at >= back_at and latest.diagnosis.verdict.value == "ok")

    wait_for("the schedule to resume without an agent restart", resumed, timeout=40)
    assert running.get("/readyz", token=None).status_code == 200


def test_stale_sidecar_is_reported_as_config_mismatch(running: RunningAgent, lab: LabHandle) -> None:
    emulator = lab.lab.emulator
    assert emulator is not None
    # Freeze the lab's sidecars: stop its reconcile from following the emulator (no public knob in
    # meshlab yet), then change the DestinationRule only in the API server.
    unsubscribe = lab.lab._unsubscribe
    assert unsubscribe is not None
    unsubscribe()
    lab.lab._unsubscribe = None
    dr = emulator.store.get("destinationrules", "bookinfo", "destrule-productpage")
    assert dr is not None
    dr = json.loads(json.dumps(dr))
    dr["spec"]["trafficPolicy"]["tls"]["mode"] = "ISTIO_MUTUAL"
    emulator.store.apply(dr)
    running.ctx.policy.invalidate()

    def stale_result() -> CheckResult | None:
        result = _run_now(running.agent, BROKEN)
        return result if result and "config mismatch" in result.diagnosis.summary.lower() else None

    result = wait_for("a diagnosis naming the stale sidecar", stale_result, timeout=20)
    assert not result.healthy
    assert "has not received the current config" in result.diagnosis.summary
    assert result.diagnosis.confidence.value != "high"
    assert result.diagnosis.summary.startswith("Config mismatch")  # leads with it, no guess first
    assert result.diagnosis.remedy is not None and "proxy-status" in result.diagnosis.remedy.text
    # The drift rule runs wherever the classifier runs: the bundle diagnosed offline says the same.
    assert result.bundle_dir is not None
    assert_diagnose_agrees(result.bundle_dir)
