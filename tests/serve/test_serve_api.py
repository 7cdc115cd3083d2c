"""HTTP API through real HTTP on 127.0.0.1 (port 0) with httpx: routes, token, rate limit, ad-hoc."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_fakes import CONFLICT, StandInCheck, make_path, make_result

from agent.config import ApiConfig
from agent.model import Verdict
from agent.serve.api import Api, ApiContext
from agent.serve.api_server import ApiServer
from agent.serve.metrics import StoreCollector, make_registry
from agent.serve.reload import ConfigStatus
from agent.serve.scheduler import ProbeScheduler, safe_check
from agent.serve.store import ResultStore

TOKEN = "t0ken-for-tests"


class Harness:
    def __init__(self, url: str, store: ResultStore, check: StandInCheck, api: Api) -> None:
        self.url, self.store, self.check, self.api = url, store, check, api

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    servers: list[ApiServer] = []
    schedulers: list[ProbeScheduler] = []

    def start(
        settings: dict[str, Any] | None = None,
        token: str | None = None,
        ready: tuple[bool, str] = (True, "ok"),
        config_status: ConfigStatus | None = None,
    ) -> Harness:
        store = ResultStore()
        check = StandInCheck()
        check.verdicts["broken"] = Verdict.MTLS_PLAINTEXT_TO_STRICT
        sched = ProbeScheduler(check, lambda p: CONFLICT if p.name == "broken" else None, store)
        sched.apply_paths([make_path("broken"), make_path("healthy")])
        schedulers.append(sched)
        ctx = ApiContext(
            store=store,
            registry=make_registry(StoreCollector(store, sched.paths)),
            paths=sched.paths,
            run_path=sched.run_now,
            run_adhoc=lambda p: safe_check(check, p),
            settings=ApiConfig.model_validate(settings or {}),
            token=token,
            ready=lambda: ready,
            config_status=lambda: config_status,
        )
        api = Api(ctx)
        server = ApiServer(api, "127.0.0.1", 0)
        server.start()
        servers.append(server)
        return Harness(server.url, store, check, api)

    yield start
    for server in servers:
        server.stop()
    for sched in schedulers:
        sched.shutdown()


def test_health_metrics_and_paths(serve: Callable[..., Harness]) -> None:
    h = serve()
    with h.client() as c:
        assert c.get("/healthz").text == "ok\n"
        assert c.get("/readyz").json()["ready"] is True
        assert c.get("/api/v1/paths").json()[0] == {
            "path": "broken", "pending": True, "verdict": None, "policy": None,
            "target": "http://broken.bookinfo.svc.cluster.local:9080/",
            "source": {"namespace": "load-test", "workload": "gen"},
        }  # fmt: skip
        probed = c.post("/api/v1/probe", json={"path": "broken"})
        assert probed.status_code == 200 and probed.json()["verdict"] == "mtls_plaintext_to_strict"
        listed = {p["path"]: p for p in c.get("/api/v1/paths").json()}
        assert listed["broken"]["verdict"] == "mtls_plaintext_to_strict"
        assert listed["broken"]["policy"]["status"] == "CONFLICT"
        assert listed["broken"]["source"]["pod"] == "gen-7d9f-abcde"
        metrics = c.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        names = {f.name for f in text_string_to_metric_families(metrics.text)}
        assert {"meshprober_probe_success", "meshprober_tls_conflict", "meshprober_probes"} <= names


@pytest.mark.parametrize(
    ("ready", "status", "code", "detail"),
    [
        ((True, "ok"), None, 200, "ok"),
        ((False, "API server unreachable"), None, 503, "API server unreachable"),
        ((True, "ok"), ConfigStatus(False, "agent.yaml", None, None, None), 503, "ok"),
        (
            (True, "ok"),
            ConfigStatus(True, "agent.yaml", 1.0, "agent.yaml: paths[0].to.port: bad", 2.0),
            200,
            "ok",
        ),
    ],
    ids=["ready", "cluster-unreachable", "no-config", "bad-reload-still-ready"],
)
def test_readyz(
    serve: Callable[..., Harness],
    ready: tuple[bool, str],
    status: ConfigStatus | None,
    code: int,
    detail: str,
) -> None:
    h = serve(ready=ready, config_status=status)
    with h.client() as c:
        r = c.get("/readyz")
    assert r.status_code == code and r.json()["detail"] == detail
    if status is not None:
        assert r.json()["config"]["last_reload_error"] == status.last_error


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [("GET", "/api/v1/paths", None), ("POST", "/api/v1/probe", {"path": "healthy"}), ("GET", "/probe?path=healthy"
     , None), ("GET", "/api/v1/paths/healthy/evidence", None)],
    ids=["list", "probe", "probe-exposition", "evidence"],
)  # fmt: skip
@pytest.mark.parametrize(
    ("token", "code"),
    [(None, 401), ("wrong", 401), (TOKEN, None)],
    ids=["no-token", "wrong-token", "right-token"],
)
def test_bearer_token_required_when_configured(
    serve: Callable[..., Harness], method: str, url: str, body: Any, token: str | None, code: int | None
) -> None:
    h = serve(token=TOKEN)
    with h.client(token) as c:
        r = c.request(method, url, json=body)
        assert c.get("/metrics").status_code == 200 and c.get("/healthz").status_code == 200  # stay open
    if code is None:
        assert r.status_code != 401
    else:
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in r.text


def test_rate_limit_429_with_retry_after(serve: Callable[..., Harness]) -> None:
    h = serve({"rate_limit": {"requests": 2, "window": "60s"}})
    with h.client() as c:
        codes = [c.post("/api/v1/probe", json={"path": "healthy"}).status_code for _ in range(2)]
        limited = c.get("/probe", params={"path": "healthy"})
    assert codes == [200, 200]
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60


ADHOC = {"from": "load-test/gen/app", "to": "http://productpage.bookinfo.svc:9080/productpage", "expect": 200}
ON = {"allow_adhoc": True, "token_env": "MESHPROBER_TOKEN"}  # ad-hoc needs a token (the harness passes it)


@pytest.mark.parametrize(
    ("settings", "body", "code", "needle"),
    [
        ({}, ADHOC, 403, "api.allow_adhoc: false"),
        (ON, ADHOC, 200, '"path": "adhoc"'),
        (ON, {**ADHOC, "to": "http://x/;id"}, 400, "request body: to.url"),
        (ON, {**ADHOC, "from": "just-a-name"}, 400, "from: must be NS/WORKLOAD"),
        (ON, {**ADHOC, "expect": 9999}, 400, "request body: expect[0]"),
        (ON, {**ADHOC, "extra": 1}, 400, "unknown field(s) ['extra']"),
        (ON, {**ADHOC, "from": "load-test/gen/istio-proxy"}, 400, "bypass the sidecar"),
        ({}, {"path": "nope"}, 404, "no configured path named 'nope'"),
        ({}, [1, 2], 400, "must be a JSON object"),
    ],
    ids=["adhoc-off-by-default", "adhoc-on", "adhoc-bad-url", "adhoc-bad-from", "adhoc-bad-expect",
         "adhoc-unknown-field", "adhoc-istio-proxy", "unknown-path", "not-an-object"],
)  # fmt: skip
def test_probe_endpoint(
    serve: Callable[..., Harness], settings: dict[str, Any], body: Any, code: int, needle: str
) -> None:
    h = serve(settings, token=TOKEN)
    with h.client(TOKEN) as c:
        r = c.post("/api/v1/probe", json=body)
    assert r.status_code == code, r.text
    assert needle in r.text.replace('":"', '": "')


def test_probe_rejects_non_json(serve: Callable[..., Harness]) -> None:
    with serve().client() as c:
        r = c.post("/api/v1/probe", content=b"path=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "Content-Type must be application/json" in r.text


def test_probe_exposition_is_one_fresh_probe(serve: Callable[..., Harness]) -> None:
    h = serve()
    with h.client() as c:
        r = c.get("/probe", params={"path": "broken"})
        missing = c.get("/probe")
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert fams["meshprober_probe_success"].samples[0].value == 0
    assert fams["meshprober_tls_conflict"].samples[0].value == 1
    assert {s.labels["path"] for f in fams.values() for s in f.samples} == {"broken"}
    assert h.check.count("broken") == 1
    assert missing.status_code == 400 and "path=NAME" in missing.text


def test_evidence_endpoint(serve: Callable[..., Harness], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "resources").mkdir(parents=True)
    (bundle / "probe.json").write_text('{"target": "http://productpage.bookinfo:9080/"}')
    (bundle / "curl.exit").write_text("0\n")
    (bundle / "resources" / "dr.yaml").write_text("kind: DestinationRule\n")
    (bundle / "escape").symlink_to("/etc/hostname")
    h = serve()
    with h.client() as c:
        assert c.get("/api/v1/paths/broken/evidence").status_code == 404  # nothing yet
        h.store.record(make_result("broken", Verdict.MTLS_PLAINTEXT_TO_STRICT, bundle_dir=bundle))
        h.store.record(make_result("broken", Verdict.OK))  # latest bundle is still the failure's
        r = c.get("/api/v1/paths/broken/evidence")
        unknown = c.get("/api/v1/paths/nope/evidence")
    assert r.status_code == 200
    assert r.json() == {
        "curl.exit": "0\n", "probe.json": '{"target": "http://productpage.bookinfo:9080/"}',
        "resources/dr.yaml": "kind: DestinationRule\n",
    }  # fmt: skip
    assert unknown.status_code == 404


def test_busy_path_returns_409(serve: Callable[..., Harness]) -> None:
    import threading

    h = serve()
    gate = threading.Event()
    h.check.blockers["healthy"] = gate
    with h.client() as c:
        worker = threading.Thread(target=lambda: c.post("/api/v1/probe", json={"path": "healthy"}))
        worker.start()
        try:
            assert wait_for_active(h.check, "healthy")
            with h.client() as c2:
                r = c2.post("/api/v1/probe", json={"path": "healthy"})
            assert r.status_code == 409 and "already running" in r.text
        finally:
            gate.set()
            worker.join(10)


def wait_for_active(check: StandInCheck, name: str) -> bool:
    from serve_fakes import wait_until

    return wait_until(lambda: check.active.get(name, 0) == 1)


def test_listen_failure_is_a_clear_error(serve: Callable[..., Harness]) -> None:
    from agent.errors import InputError

    h = serve()
    port = int(h.url.rsplit(":", 1)[1])
    store = ResultStore()
    api = Api(ApiContext(store, make_registry(StoreCollector(store, dict)), dict, lambda n: make_result(n),
                         lambda p: make_result(p)))  # fmt: skip
    with pytest.raises(InputError, match=f"--listen: cannot listen on 127.0.0.1:{port}"):
        ApiServer(api, "127.0.0.1", port).start()


def test_readyz_with_a_hanging_cluster_check_is_bounded(
    serve: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from agent.serve import api as api_module

    monkeypatch.setattr(api_module, "READY_TIMEOUT_S", 0.2)
    gate = threading.Event()

    def hanging() -> tuple[bool, str]:
        gate.wait(5)
        return True, "ok"

    h = serve()
    try:
        with h.client() as c:
            h.api.ctx.ready = hanging  # the cluster check of the running API now hangs
            r = c.get("/readyz")
            assert c.get("/healthz").status_code == 200  # the loop was not blocked
    finally:
        gate.set()
    assert r.status_code == 503 and "did not answer within 0.2s" in r.json()["detail"]


def test_adhoc_source_running_as_uid_1337_is_a_400(serve: Callable[..., Harness]) -> None:
    """The pod's container runs as the proxy's UID: the check fails with stage sidecar_bypass -> 400."""
    from agent.check.via import SIDECAR_BYPASS_STAGE
    from agent.config.probe_via import proxy_uid_error
    from agent.results import probe_failed_result, source_ref

    h = serve(ON, token=TOKEN)
    why = proxy_uid_error("load-test", "gen-1", "app", 1337)
    assert why is not None
    h.api.ctx.run_adhoc = lambda p: probe_failed_result(
        p.name, source_ref(p), p.to.target_url, SIDECAR_BYPASS_STAGE, why, 0.0
    )
    with h.client(TOKEN) as c:
        r = c.post("/api/v1/probe", json=ADHOC)
    assert r.status_code == 400, r.text
    assert "runs as UID 1337" in r.text and "--uid-owner 1337" in r.text
