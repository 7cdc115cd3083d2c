"""The API's security rules, through real HTTP on loopback (port 0) and as pure tables: start-up
refusal, metrics apart, ad-hoc sources and targets, Content-Type, Host header, security headers,
bad bodies, per-client rate limits and separate pools for probes and evidence reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_fakes import StandInCheck, make_path, make_result, wait_until

from agent.config import ApiConfig, parse_config_text
from agent.errors import ConfigError
from agent.model import Verdict
from agent.serve.access import HostCheck, exposure_problem, is_loopback
from agent.serve.agent import Agent
from agent.serve.api import Api, ApiContext
from agent.serve.api_server import ApiServer
from agent.serve.http_guard import needs_token
from agent.serve.metrics import StoreCollector, make_registry
from agent.serve.ratelimit import ClientRateLimit
from agent.serve.scheduler import ProbeScheduler, safe_check
from agent.serve.store import ResultStore

TOKEN = "t0ken-for-security-tests"
ON = {"allow_adhoc": True, "token_env": "MESHPROBER_TOKEN"}


class Served:
    def __init__(self, url: str, store: ResultStore, check: StandInCheck) -> None:
        self.url, self.store, self.check = url, store, check

    def client(self, token: str | None = TOKEN, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **kw)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    servers: list[ApiServer] = []
    schedulers: list[ProbeScheduler] = []

    def start(settings: dict[str, Any] | None = None, token: str | None = TOKEN) -> Served:
        store, check = ResultStore(), StandInCheck()
        sched = ProbeScheduler(check, lambda p: None, store)
        sched.apply_paths([make_path("healthy"), make_path("other", workload="other-gen")])
        schedulers.append(sched)
        ctx = ApiContext(
            store=store,
            registry=make_registry(StoreCollector(store, sched.paths)),
            paths=sched.paths,
            run_path=sched.run_now,
            run_adhoc=lambda p: safe_check(check, p),
            settings=ApiConfig.model_validate(settings or {}),
            token=token,
        )
        server = ApiServer(Api(ctx), "127.0.0.1", 0)
        server.start()
        servers.append(server)
        return Served(server.url, store, check)

    yield start
    for server in servers:
        server.stop()
    for sched in schedulers:
        sched.shutdown()


# --- start-up: no open API off loopback, no ad-hoc without a token ----------------------------------


@pytest.mark.parametrize(
    ("host", "token", "insecure", "adhoc", "needle"),
    [
        pytest.param("127.0.0.1", False, False, False, None, id="healthy-loopback-no-token"),
        pytest.param("0.0.0.0", True, False, False, None, id="healthy-all-interfaces-with-token"),
        pytest.param("0.0.0.0", False, False, False, "api.insecure: true", id="open-off-loopback-refused"),
        pytest.param("10.1.2.3", False, False, False, "api.insecure: true", id="pod-ip-refused"),
        pytest.param("0.0.0.0", False, True, False, None, id="insecure-says-so"),
        pytest.param(
            "127.0.0.1", False, False, True, "api.allow_adhoc", id="adhoc-needs-token-even-on-loopback"
        ),
        pytest.param("0.0.0.0", False, True, True, "api.allow_adhoc", id="insecure-does-not-cover-adhoc"),
    ],
)
def test_exposure_rules(host: str, token: bool, insecure: bool, adhoc: bool, needle: str | None) -> None:
    problem = exposure_problem(host, token, insecure, adhoc)
    assert (problem is None) if needle is None else (problem is not None and needle in problem)


def test_agent_refuses_an_open_api_off_loopback(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text("api: {listen: '0.0.0.0:0'}\n")
    agent = Agent(file, StandInCheck(), lambda p: None)
    with pytest.raises(ConfigError, match=r"api.insecure: true"):
        agent.start(schedule=False)
    assert agent.url is None  # nothing was left listening
    file.write_text("api: {listen: '0.0.0.0:0', insecure: true}\n")
    agent = Agent(file, StandInCheck(), lambda p: None)
    agent.start(schedule=False)
    agent.stop()


def test_allow_adhoc_without_a_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"api: allow_adhoc needs a bearer token.*token_file or token_env"):
        parse_config_text("api: {allow_adhoc: true}\n", "agent.yaml")


def test_metrics_and_health_on_their_own_listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHPROBER_TOKEN", TOKEN)
    file = tmp_path / "agent.yaml"
    file.write_text(
        "api: {listen: '127.0.0.1:0', metrics_listen: '127.0.0.1:0', token_env: MESHPROBER_TOKEN}\n"
    )
    agent = Agent(file, StandInCheck(), lambda p: None)
    agent.start(schedule=False)
    try:
        assert agent.url and agent.metrics_url and agent.url != agent.metrics_url
        with httpx.Client(base_url=agent.metrics_url, timeout=10) as m:
            assert m.get("/metrics").status_code == 200 and m.get("/healthz").status_code == 200
            assert m.get("/api/v1/paths").status_code == 404 and m.get("/").status_code == 404
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=agent.url, timeout=10, headers=auth) as a:
            assert a.get("/api/v1/paths").status_code == 200
            assert a.get("/metrics").status_code == 404
    finally:
        agent.stop()


@pytest.mark.parametrize(
    ("path", "peer", "needed"),
    [
        pytest.param("/metrics", "10.0.0.7", False, id="healthy-metrics-open"),
        pytest.param("/healthz", "10.0.0.7", False, id="health-open"),
        pytest.param("/api/v1/paths", "127.0.0.1", True, id="api-always-even-loopback"),
        pytest.param("/probe", "10.0.0.7", True, id="probe-exposition"),
        pytest.param("/", "127.0.0.1", False, id="status-page-loopback-port-forward"),
        pytest.param("/", "10.0.0.7", True, id="status-page-off-loopback"),
        pytest.param("/", "::ffff:10.0.0.7", True, id="status-page-v4-mapped"),
        pytest.param("/", None, True, id="status-page-unknown-peer"),
        pytest.param("//api/v1/paths", "127.0.0.1", True, id="odd-path-defaults-to-token"),
        pytest.param("/paths/broken", "127.0.0.1", False, id="path-page-loopback"),
        pytest.param("/paths/broken", "10.0.0.7", True, id="path-page-off-loopback"),
        pytest.param("/api/v1/paths/broken/bundle.tar.gz", "127.0.0.1", False, id="bundle-download-loopback"),
        pytest.param(
            "/api/v1/paths/broken/bundle.tar.gz", "10.0.0.7", True, id="bundle-download-off-loopback"
        ),
        pytest.param(
            "/api/v1/paths/broken/evidence/curl.stderr", "10.0.0.7", True, id="evidence-file-off-loopback"
        ),
        pytest.param("/api/v1/paths/broken/evidence", "127.0.0.1", True, id="evidence-json-api"),
        pytest.param("/api/v1/paths/a/b/bundle.tar.gz", "127.0.0.1", True, id="not-a-browser-route"),
        pytest.param("/static/status.css", "10.0.0.7", False, id="static-assets"),
    ],
)
def test_which_requests_need_the_token(path: str, peer: str | None, needed: bool) -> None:
    assert needs_token(path, peer) is needed


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("localhost", True), ("::ffff:127.0.0.1", True),
     ("0.0.0.0", False), ("", False), ("10.0.0.1", False), ("example.com", False)],
    ids=str,
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# --- ad-hoc: sources and targets ----------------------------------------------------------------------

ADHOC = {"from": "load-test/gen", "to": "http://productpage.bookinfo.svc.cluster.local:9080/productpage"}


@pytest.mark.parametrize(
    ("settings", "body", "code", "needle"),
    [
        pytest.param({}, ADHOC, 200, '"path": "adhoc"', id="healthy-in-mesh-fqdn"),
        pytest.param({}, {**ADHOC, "to": "http://productpage.bookinfo.svc:9080/"}, 200, "adhoc", id="healthy-svc-short"),
        pytest.param({}, {**ADHOC, "to": "http://169.254.169.254/latest/meta-data/"}, 400, "link-local", id="aws-metadata-ip"),
        pytest.param({}, {**ADHOC, "to": "http://metadata.google.internal/computeMetadata/v1/"}, 400, "cloud metadata host", id="gce-metadata"),
        pytest.param({}, {**ADHOC, "to": "http://localhost:15000/config_dump"}, 400, "15000-15090", id="envoy-admin"),
        pytest.param({}, {**ADHOC, "to": "http://localhost:8080/"}, 400, "localhost", id="localhost"),
        pytest.param({}, {**ADHOC, "to": "http://127.0.0.1:8080/"}, 400, "loopback", id="loopback-ip"),
        pytest.param({}, {**ADHOC, "to": "http://10.96.0.1/"}, 400, "IP literal", id="ip-literal"),
        pytest.param({}, {**ADHOC, "to": "http://[fe80::1]/"}, 400, "link-local", id="ipv6-link-local"),
        pytest.param({}, {**ADHOC, "to": "https://kubernetes.default.svc/api"}, 400, "Kubernetes API server", id="kube-apiserver"),
        pytest.param({}, {**ADHOC, "to": "http://reviews.bookinfo.svc:15021/healthz/ready"}, 400, "sidecar's own ports", id="pilot-agent-port"),
        pytest.param({}, {**ADHOC, "to": "http://example.com/"}, 400, "not an in-mesh Service hostname", id="external-host"),
        pytest.param({}, {**ADHOC, "to": "http://productpage.bookinfo:9080/"}, 400, "not an in-mesh Service", id="short-name"),
        pytest.param({}, {**ADHOC, "to": "http://productpage.bookinfo.svc.evil.com/"}, 400, "not an in-mesh", id="svc-other-domain"),
        pytest.param({"adhoc_extra_hosts": ["example.com"]}, {**ADHOC, "to": "http://example.com/"}, 200, "adhoc", id="extra-host-allowed"),
        pytest.param({"cluster_domain": "corp.local"}, {**ADHOC, "to": "http://a.b.svc.corp.local/"}, 200, "adhoc", id="own-cluster-domain"),
        pytest.param({}, {**ADHOC, "from": "kube-system/coredns"}, 403, "not a configured probe source", id="foreign-source"),
        pytest.param({"adhoc_sources": ["kube-system/coredns"]}, {**ADHOC, "from": "kube-system/coredns"}, 200, "adhoc", id="listed-source"),
        pytest.param({"adhoc_sources": ["tools/*"]}, {**ADHOC, "from": "tools/debug"}, 200, "adhoc", id="listed-namespace"),
        pytest.param({}, {**ADHOC, "from": "load-test/other-gen"}, 200, "adhoc", id="another-configured-source"),
    ],
)  # fmt: skip
def test_adhoc_limits(
    serve: Callable[..., Served], settings: dict[str, Any], body: Any, code: int, needle: str
) -> None:
    h = serve({**ON, **settings})
    with h.client() as c:
        r = c.post("/api/v1/probe", json=body)
    assert r.status_code == code, r.text
    assert needle in r.text


def test_adhoc_without_a_runtime_token_is_refused(serve: Callable[..., Served]) -> None:
    h = serve(ON, token=None)
    with h.client(None) as c:
        r = c.post("/api/v1/probe", json=ADHOC)
    assert r.status_code == 403 and "need a bearer token" in r.text


# --- browsers: Content-Type, Host, headers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "code"),
    [
        pytest.param("application/json", 200, id="healthy-json"),
        pytest.param("application/json; charset=utf-8", 200, id="json-utf8"),
        pytest.param("text/plain", 415, id="text-plain-cross-site-simple-request"),
        pytest.param("application/x-www-form-urlencoded", 415, id="form"),
        pytest.param(None, 415, id="none"),
    ],
)
def test_post_requires_application_json(
    serve: Callable[..., Served], content_type: str | None, code: int
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with serve().client() as c:
        r = c.post("/api/v1/probe", content=b'{"path": "healthy"}', headers=headers)
    assert r.status_code == code, r.text


@pytest.mark.parametrize(
    ("host", "allowed", "code"),
    [
        pytest.param(None, (), 200, id="healthy-listen-address"),
        pytest.param("localhost:9090", (), 200, id="localhost"),
        pytest.param("attacker.example:9090", (), 421, id="dns-rebinding"),
        pytest.param("meshprober.tools.svc", ("meshprober.tools.svc",), 200, id="configured-name"),
        pytest.param("127.0.0.1.attacker.example", (), 421, id="ip-looking-name"),
    ],
)
def test_host_header_is_checked(
    serve: Callable[..., Served], host: str | None, allowed: tuple[str, ...], code: int
) -> None:
    h = serve({"allowed_hosts": list(allowed)})
    headers = {"Host": host} if host else {}
    with h.client() as c:
        page, api = c.get("/", headers=headers), c.get("/api/v1/paths", headers=headers)
    assert (page.status_code, api.status_code) == (code, code)
    if code == 421:
        assert "api.allowed_hosts" in api.text


def test_status_page_security_headers(serve: Callable[..., Served]) -> None:
    with serve().client() as c:
        r = c.get("/")
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


# --- bad bodies: 400, never 500 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "needle"),
    [
        pytest.param(b"[" * 30_000 + b"]" * 30_000, "application/json", "nested deeper", id="deeply-nested"),
        pytest.param(
            b'{"a": ' * 50 + b"1" + b"}" * 50, "application/json", "nested deeper", id="nested-objects"
        ),
        pytest.param(
            b'{"path": "healthy"}', "application/json; charset=bogus-xyz", "charset", id="bogus-charset"
        ),
        pytest.param(b'{"path": "healthy"}', "application/json; charset=latin-1", "charset", id="latin1"),
        pytest.param(b'{"path": "\xff"}', "application/json", "UTF-8", id="bad-utf8"),
        pytest.param(b"{nope", "application/json", "must be JSON", id="not-json"),
    ],
)
def test_bad_bodies_are_400(
    serve: Callable[..., Served], body: bytes, content_type: str, needle: str
) -> None:
    with serve().client() as c:
        r = c.post("/api/v1/probe", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 400, r.text
    assert needle in r.text


# --- fairness -----------------------------------------------------------------------------------------


def test_client_buckets_and_global_cap() -> None:
    now = [0.0]
    limiter = ClientRateLimit(2, 60.0, 5, max_clients=3, clock=lambda: now[0])
    assert [limiter.take("a")[0] for _ in range(3)] == [True, True, False]  # a is over its own limit
    assert [limiter.take("b")[0] for _ in range(2)] == [True, True]  # ... which does not starve b
    assert limiter.take("c")[0] is True  # 5 of the global 5
    allowed, retry = limiter.take("d")
    assert not allowed and retry >= 1  # the global cap holds for everyone
    for name in "efghij":
        limiter.take(name)
    assert len(limiter._buckets) == 3  # bounded however many clients come


def test_one_client_cannot_starve_another_over_http(serve: Callable[..., Served]) -> None:
    h = serve({"rate_limit": {"requests": 2, "window": "60s", "global_requests": 100}})
    noisy = httpx.HTTPTransport(local_address="127.0.0.2")
    with h.client(transport=noisy) as a, h.client() as b:
        codes = [a.post("/api/v1/probe", json={"path": "healthy"}).status_code for _ in range(3)]
        other = b.post("/api/v1/probe", json={"path": "healthy"}).status_code
    assert codes == [200, 200, 429] and other == 200


def test_hung_probes_do_not_block_evidence_reads(serve: Callable[..., Served], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "curl.exit").write_text("0\n")
    h = serve(ON)
    h.store.record(make_result("healthy", Verdict.MTLS_PLAINTEXT_TO_STRICT, bundle_dir=bundle))
    gate = threading.Event()
    h.check.blockers["adhoc"] = gate
    workers = []
    try:
        for _ in range(4):  # as many as the probe pool has threads
            t = threading.Thread(target=lambda: h.client().post("/api/v1/probe", json=ADHOC), daemon=True)
            t.start()
            workers.append(t)
        assert wait_until(lambda: h.check.active.get("adhoc", 0) == 4)
        with h.client() as c:
            start = time.monotonic()
            r = c.get("/api/v1/paths/healthy/evidence", timeout=3)
        assert r.status_code == 200 and r.json() == {"curl.exit": "0\n"}
        assert time.monotonic() - start < 3
    finally:
        gate.set()
        for t in workers:
            t.join(10)


@pytest.mark.parametrize(
    ("listen", "header", "ok"),
    [
        pytest.param("0.0.0.0", "10.1.2.3:9090", True, id="healthy-wildcard-pod-ip"),
        pytest.param("0.0.0.0", "localhost:9090", True, id="wildcard-port-forward"),
        pytest.param("0.0.0.0", "[fd00::1]:9090", True, id="wildcard-ipv6-literal"),
        pytest.param("0.0.0.0", "meshprober.tools.svc:9090", True, id="wildcard-configured-name"),
        pytest.param("0.0.0.0", "rebind.attacker.example", False, id="wildcard-rebinding-name"),
        pytest.param("127.0.0.1", "10.1.2.3", False, id="loopback-listener-other-ip"),
        pytest.param("10.1.2.3", "10.1.2.3:9090", True, id="specific-ip"),
        pytest.param("10.1.2.3", "10.1.2.4:9090", False, id="specific-ip-other"),
        pytest.param("127.0.0.1", None, False, id="no-host-header"),
    ],
)
def test_host_check_table(listen: str, header: str | None, ok: bool) -> None:
    assert HostCheck(listen, frozenset({"meshprober.tools.svc"})).allows(header) is ok
