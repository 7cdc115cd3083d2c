"""Every built-in scenario through the real clients: pinned kubectl, and the official Python client.

Each row is one of the scenario's own `paths:` (what `meshprober demo` probes), so the YAML and the
behaviour it promises cannot drift apart. Labs are module-scoped and started once per scenario.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from agent.envoy.access_log import find_by_request_id, parse_log
from agent.envoy.config_dump import cluster_name_regex
from agent.kube.live import LiveCluster
from meshlab.processes import pid_alive
from meshlab.scenario import Scenario, available_scenarios, load_scenario, with_knobs
from tests.support.lab import LabHandle, run_lab

pytestmark = [pytest.mark.envoy, pytest.mark.lab]


@dataclass(frozen=True)
class Expect:
    """What one path must show: curl's exit code and HTTP code, and the client sidecar's log line."""

    curl_exit: tuple[int, ...] = (0,)
    http: str = "200"
    flags: tuple[str, ...] = ()  # response flags that must all be on the client's log line
    reason: tuple[str, ...] = ()  # substrings of the (cleaned) upstream transport failure reason
    logged: bool = True  # False: the client sidecar's access logging is off, so it writes no line


OK = Expect()
RESET = Expect(curl_exit=(52, 56), http="000")  # STRICT server drops plaintext: reset / empty reply
TLS_503 = ("UF", "URX")
UC_503 = Expect(http="503", flags=("UC",))  # plaintext into a STRICT server: connection termination
CASES: list[tuple[str, str, Expect]] = [
    ("seed", "bookinfo-to-productpage", UC_503),
    ("seed", "traffic-generator-to-productpage", OK),
    ("seed", "load-test-to-productpage", UC_503),
    ("seed", "productpage-to-reviews", OK),
    ("healthy", "load-test-to-productpage", OK),
    ("healthy", "productpage-to-reviews", OK),
    ("mtls-to-no-sidecar", "load-test-to-legacy-api", Expect(http="503", flags=TLS_503, reason=("WRONG_VERSION_NUMBER",))),
    ("mtls-to-no-sidecar", "load-test-to-productpage", OK),
    ("bad-certs", "to-ratings-other-ca", Expect(http="503", flags=TLS_503, reason=("CERTIFICATE_VERIFY_FAILED", "unable to get local issuer certificate"))),
    ("bad-certs", "to-reviews-wrong-san", Expect(http="503", flags=TLS_503, reason=("CERTIFICATE_VERIFY_FAILED", "SAN matcher", "sa/impostor"))),
    ("bad-certs", "to-details-expired", Expect(http="503", flags=TLS_503, reason=("CERTIFICATE_VERIFY_FAILED", "certificate has expired"))),
    ("bad-certs", "to-productpage-ok", OK),
    ("no-sidecar-client", "legacy-to-productpage", RESET),
    ("no-sidecar-client", "load-test-to-productpage", OK),
    # realistic: access logging is on only in bookinfo (Telemetry), off elsewhere (meshConfig).
    ("realistic", "bookinfo-to-productpage", UC_503),
    ("realistic", "traffic-generator-to-productpage", Expect(logged=False)),
    ("realistic", "load-test-to-productpage", Expect(http="503", logged=False)),
    ("realistic", "productpage-to-reviews", OK),
    # load-test's generator has no curl here: probed from a `kubectl debug` container, through its sidecar
    ("seed-no-curl", "bookinfo-to-productpage", UC_503),
    ("seed-no-curl", "traffic-generator-to-productpage", OK),
    ("seed-no-curl", "load-test-to-productpage", UC_503),
    ("seed-no-curl", "productpage-to-reviews", OK),
]  # fmt: skip


# Every scenario's outcome holds with ambient enabled in the control plane (hbone matches on every
# sidecar cluster) and native sidecars: the same rows, run on `NAME@ambient+native`.
CASES += [(f"{name}@ambient+native", path, expect) for name, path, expect in CASES if name != "realistic"]


def _scenario(key: str) -> Scenario:
    """A built-in scenario by name; `NAME@ambient+native` = with ambient enabled and native sidecars."""
    name, _, knobs = key.partition("@")
    scenario = load_scenario(name)
    if knobs:
        scenario = with_knobs(
            scenario, ambient_enabled="ambient" in knobs, sidecar_mode="native" if "native" in knobs else None
        )
    return scenario


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], LabHandle]]:
    """The lab of a scenario ("NAME" or "NAME:tag" for a separate one), started on first use.

    Only one lab runs at a time (switching stops the previous one): every Envoy takes a few of the
    machine-wide inotify instances (default 128 per user), and other suites run labs too.
    """
    current: list[tuple[str, LabHandle, Iterator[LabHandle]]] = []

    def get(key: str) -> LabHandle:
        if current and current[0][0] == key:
            return current[0][1]
        if current:
            next(current.pop()[2], None)
        gen = run_lab(
            _scenario(key.split(":")[0]),
            tmp_path_factory.mktemp(key.replace(":", "-").replace("@", "-").replace("+", "-")),
        )
        current.append((key, next(gen), gen))
        return current[0][1]

    try:
        yield get
    finally:
        if current:
            next(current.pop()[2], None)


@pytest.mark.parametrize("scenario", available_scenarios())
def test_table_covers_every_path_of_the_scenario(scenario: str) -> None:
    paths = {p.name for p in load_scenario(scenario).paths}
    assert paths == {c[1] for c in CASES if c[0] == scenario}
    if scenario != "realistic":
        assert paths == {c[1] for c in CASES if c[0] == f"{scenario}@ambient+native"}


@pytest.mark.parametrize(("scenario", "path", "expect"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_path_behaves_as_the_scenario_says(
    labs: Callable[[str], LabHandle], scenario: str, path: str, expect: Expect
) -> None:
    lab = labs(scenario)
    spec = next(p for p in lab.lab.scenario.paths if p.name == path)
    rid = f"rid-{scenario}-{path}"
    ns, workload = spec.from_.split("/")[:2]
    client = lab.lab.scenario.workload(ns, workload)
    assert client is not None
    r = lab.curl(spec.from_, spec.to, rid) if client.curl else lab.debug_curl(spec.from_, spec.to, rid)
    assert r.returncode in expect.curl_exit, r.stderr
    assert r.stdout == expect.http
    if not client.sidecar:
        return
    if not expect.logged:
        assert lab.proxy_log_lines(spec.from_, rid, timeout=1.0) == []
        return
    entries = find_by_request_id(parse_log("\n".join(lab.proxy_log_lines(spec.from_, rid))), rid)
    assert entries, f"no istio-proxy log line for {rid}"
    entry = entries[-1]
    assert str(entry.response_code) == expect.http
    assert set(expect.flags) <= set(entry.response_flags), entry.raw
    reason = entry.upstream_transport_failure_reason or ""
    if not expect.reason:
        assert reason in ("", "-"), entry.raw
    assert all(part in reason for part in expect.reason), entry.raw


@pytest.mark.parametrize(
    ("source", "url", "exit_code"),
    [
        ("load-test/traffic-generator", "http://productpage.bookinfo.svc.cluster.local:9080/productpage", 0),
        ("legacy/legacy-client", "http://productpage.bookinfo.svc.cluster.local:9080/productpage", 56),
    ],
    ids=["sidecar-client-200", "legacy-client-reset"],
)
def test_official_python_client_exec(
    labs: Callable[[str], LabHandle], source: str, url: str, exit_code: int
) -> None:
    lab = labs("no-sidecar-client")
    ns, workload = source.split("/")
    live = LiveCluster.from_kubeconfig(str(lab.lab.kubeconfig))
    try:
        argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url]
        result = live.exec(ns, lab.pod(ns, workload), workload, argv, timeout=20)
    finally:
        live.close()
    assert result.exit_code in ((52, 56) if exit_code else (0,)), result.stderr
    assert result.stdout == (b"200" if exit_code == 0 else b"000")


PP_FQDN = "productpage.bookinfo.svc.cluster.local"


def _pilot_agent(lab: LabHandle, source: str, path: str) -> subprocess.CompletedProcess[str]:
    ns, workload = source.split("/")
    return lab.k("exec", "-n", ns, lab.pod(ns, workload), "-c", "istio-proxy", "--",
                 "pilot-agent", "request", "GET", path)  # fmt: skip


@pytest.mark.parametrize(
    ("source", "path", "check"),
    [
        (
            "load-test/traffic-generator",
            "config_dump?resource=dynamic_active_clusters&name_regex="
            + quote(cluster_name_regex(PP_FQDN, 9080), safe=""),
            lambda out, ip: (
                [c["cluster"]["name"] for c in json.loads(out)["configs"]] == [f"outbound|9080||{PP_FQDN}"]
            ),
        ),
        (
            "load-test/traffic-generator",
            "config_dump?resource=dynamic_active_clusters&name_regex="
            + quote(cluster_name_regex("nothing.bookinfo.svc.cluster.local", 9080), safe=""),
            lambda out, ip: out.strip() == "{}",
        ),
        (
            "load-test/traffic-generator",
            "stats",
            lambda out, ip: (
                f"cluster.outbound|9080||{PP_FQDN}.upstream_cx_total:" in out
                and f"listener.{ip}_9080" not in out
            ),
        ),
        ("bookinfo/productpage", "stats", lambda out, ip: f"listener.{ip}_9080.ssl.connection_error:" in out),
        ("bookinfo/productpage", "ready", lambda out, ip: out.strip() == "LIVE"),
    ],
    ids=[
        "config-dump-filter-hit",
        "config-dump-filter-miss-is-empty",
        "stats-client",
        "stats-server",
        "ready",
    ],
)
def test_pilot_agent_request_per_pod(
    labs: Callable[[str], LabHandle], source: str, path: str, check: Callable[[str, str], bool]
) -> None:
    lab = labs("no-sidecar-client")
    r = _pilot_agent(lab, source, path)
    assert r.returncode == 0, r.stderr
    ns, workload = source.split("/")
    ip = next(p.ip for p in lab.lab.pods if p.namespace == ns and p.workload.name == workload)
    assert check(r.stdout, ip), r.stdout[:500]


def test_logs_since_filters_by_the_access_log_time(labs: Callable[[str], LabHandle]) -> None:
    lab = labs("no-sidecar-client")
    src = "load-test/traffic-generator"
    assert lab.curl(src, f"http://{PP_FQDN}:9080/productpage", "rid-since").stdout == "200"
    line = lab.proxy_log_lines(src, "rid-since")[-1]
    started = dt.datetime.fromisoformat(line[1 : line.index("]")].replace("Z", "+00:00"))
    pod = lab.pod("load-test", "traffic-generator")
    recent = lab.k("logs", "-n", "load-test", pod, "-c", "istio-proxy", "--since=10m")
    assert recent.returncode == 0 and "rid-since" in recent.stdout
    after = (started + dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = lab.k("logs", "-n", "load-test", pod, "-c", "istio-proxy", f"--since-time={after}")
    assert later.returncode == 0, later.stderr
    assert "rid-since" not in later.stdout


REVIEWS_TWO_PORTS = """\
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo, labels: {app: reviews, service: reviews}}
spec:
  selector: {app: reviews}
  ports:
    - {name: http, port: 9080, targetPort: 9080, protocol: TCP}
    - {name: http-admin, port: 9090, targetPort: 9090, protocol: TCP}
"""

REVIEWS_ONE_PORT = REVIEWS_TWO_PORTS.split("    - {name: http-admin")[0]


def _poll(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded: the lab reconciles within about a second
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_runtime_follows_service_port_changes_and_pod_deletion(
    labs: Callable[[str], LabHandle], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A Service gaining a port starts an app behind the sidecar; `kubectl delete pod` stops the
    pod's processes and the Python client no longer lists it (its own lab, last: it mutates the mesh)."""
    tmp = tmp_path_factory.mktemp("changes-yaml")
    lab = labs("healthy:changes")
    src, reviews = "bookinfo/productpage", lab.pod("bookinfo", "reviews")
    (tmp / "svc.yaml").write_text(REVIEWS_TWO_PORTS)
    assert lab.k("apply", "-f", str(tmp / "svc.yaml")).returncode == 0
    url = "http://reviews.bookinfo.svc.cluster.local:9090/reviews/0"
    assert _poll(lambda: lab.curl(src, url, "rid-new-port").stdout == "200")

    pids = {n: p for n, p in lab.lab.supervisor.pids().items() if reviews in n}
    assert len(pids) == 3, pids  # envoy + app on two ports
    (tmp / "svc.yaml").write_text(REVIEWS_ONE_PORT)
    assert lab.k("apply", "-f", str(tmp / "svc.yaml")).returncode == 0
    extra = next(p for n, p in pids.items() if n.endswith(":29090"))
    assert _poll(lambda: not pid_alive(extra))  # the port went away: its app stops
    pids = {n: p for n, p in lab.lab.supervisor.pids().items() if reviews in n}
    assert len(pids) == 2, pids
    r = lab.k("delete", "pod", "-n", "bookinfo", reviews, "--wait=false")
    assert r.returncode == 0, r.stderr
    assert _poll(lambda: not any(pid_alive(p) for p in pids.values())), pids
    live = LiveCluster.from_kubeconfig(str(lab.lab.kubeconfig))
    try:
        assert reviews not in {p.name for p in live.list_pods("bookinfo")}
    finally:
        live.close()
    r = lab.k("exec", "-n", "bookinfo", reviews, "--", "true")
    assert r.returncode != 0 and "not found" in r.stderr
    gone = lab.curl(src, "http://reviews.bookinfo.svc.cluster.local:9080/reviews/0", "rid-gone")
    assert gone.stdout == "503"  # no endpoint left: the client sidecar answers itself
