"""The `realistic` scenario's knobs through real Envoy and the pinned kubectl: revisioned control plane
in mesh-system, native sidecars, HBONE cluster shapes, access logging off except via Telemetry, the
corp.internal cluster domain, and a kubelet that reports and restarts a dead sidecar."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.lab import LabHandle, run_lab

pytestmark = [pytest.mark.envoy, pytest.mark.lab]
PP = "http://productpage.bookinfo.svc.corp.internal:9080/productpage"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    yield from run_lab("realistic", tmp_path_factory.mktemp("realistic"))


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def test_kubectl_finds_the_revisioned_control_plane(lab: LabHandle) -> None:
    cm = lab.k("get", "configmap", "-n", "mesh-system", "istio-1-30", "-o", "jsonpath={.data.mesh}")
    assert cm.returncode == 0, cm.stderr
    assert "rootNamespace: mesh-system" in cm.stdout and "accessLogFile: ''" in cm.stdout
    assert lab.k("get", "configmap", "-n", "mesh-system", "istio").returncode != 0  # no un-suffixed one
    pods = lab.k("get", "pods", "-n", "mesh-system", "-l", "app=istiod,istio.io/rev=1-30", "-o", "name")
    assert pods.stdout.startswith("pod/istiod-1-30-"), pods.stderr
    hooks = lab.k("get", "mutatingwebhookconfigurations", "-l", "istio.io/rev=1-30", "-o", "name")
    assert (
        hooks.stdout.strip()
        == "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector-1-30-mesh-system"
    )
    env = lab.k("get", "deploy", "-n", "mesh-system", "istiod-1-30", "-o",
                "jsonpath={.spec.template.spec.containers[0].env[?(@.name=='PILOT_ENABLE_AMBIENT')].value}")  # fmt: skip
    assert env.stdout == "true"


def test_kubectl_lists_native_sidecar_pods_and_reads_their_proxy_logs(lab: LabHandle) -> None:
    out = lab.k("get", "pods", "-n", "bookinfo")
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    assert rows and all(r[1:3] == ["2/2", "Running"] for r in rows), out.stdout
    pod = lab.pod("bookinfo", "productpage")
    spec = json.loads(lab.k("get", "pod", "-n", "bookinfo", pod, "-o", "json").stdout)
    assert [(c["name"], c.get("restartPolicy")) for c in spec["spec"]["initContainers"]] == [
        ("istio-init", None),
        ("istio-proxy", "Always"),
    ]
    assert spec["metadata"]["labels"]["istio.io/rev"] == "1-30"
    assert lab.curl("bookinfo/traffic-generator", PP, "rid-native-logs").stdout == "503"
    assert lab.proxy_log_lines("bookinfo/traffic-generator", "rid-native-logs")  # kubectl logs -c istio-proxy


def test_clusters_carry_hbone_matches_and_the_cluster_domain(lab: LabHandle) -> None:
    pod = lab.pod("load-test", "traffic-generator")
    r = lab.k("exec", "-n", "load-test", pod, "-c", "istio-proxy", "--",
              "pilot-agent", "request", "GET", "config_dump?resource=dynamic_active_clusters")  # fmt: skip
    assert r.returncode == 0, r.stderr
    clusters = {c["cluster"]["name"]: c["cluster"] for c in json.loads(r.stdout)["configs"]}
    pp = clusters["outbound|9080||productpage.bookinfo.svc.corp.internal"]  # the DR's DISABLE
    assert [m["name"] for m in pp["transport_socket_matches"]] == ["hbone", "tlsMode-disabled"]
    reviews = clusters["outbound|9080||reviews.bookinfo.svc.corp.internal"]  # auto mTLS
    assert [m["name"] for m in reviews["transport_socket_matches"]] == [
        "hbone",
        "tlsMode-istio",
        "tlsMode-disabled",
    ]
    assert "connect_originate" in clusters


@pytest.mark.parametrize(
    ("source", "logged"),
    [("bookinfo/traffic-generator", True), ("load-test/traffic-generator", False)],
    ids=["telemetry-namespace-logs", "mesh-config-off-no-log"],
)
def test_access_logging_is_really_on_or_off(lab: LabHandle, source: str, logged: bool) -> None:
    rid = f"rid-logging-{source.split('/')[0]}"
    assert lab.curl(source, PP, rid).stdout == "503"
    lines = lab.proxy_log_lines(source, rid, timeout=5.0 if logged else 1.5)
    assert bool(lines) is logged, lines


def test_a_telemetry_applied_with_kubectl_turns_logging_on_then_off(lab: LabHandle, tmp_path: Path) -> None:
    src = "load-test/traffic-generator"
    telemetry = tmp_path / "telemetry.yaml"
    telemetry.write_text(
        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\n"
        "metadata: {name: logs, namespace: load-test}\n"
        "spec:\n  accessLogging:\n  - providers: [{name: envoy}]\n"
    )
    assert lab.k("apply", "-f", str(telemetry)).returncode == 0
    try:

        def logged(rid: str) -> bool:
            lab.curl(src, PP, rid)
            return bool(lab.proxy_log_lines(src, rid, timeout=0.5))

        wait_for(
            "the sidecar to log after the Telemetry", lambda: logged(f"rid-tel-{time.monotonic_ns()}"), 15
        )
    finally:
        assert lab.k("delete", "-f", str(telemetry)).returncode == 0
    time.sleep(1.5)  # the lab re-renders within about a second
    rid = "rid-tel-deleted"
    lab.curl(src, PP, rid)
    assert lab.proxy_log_lines(src, rid, timeout=1.0) == []


def test_mesh_config_edited_with_kubectl_switches_the_log_to_json(lab: LabHandle, tmp_path: Path) -> None:
    from agent.envoy.access_log import find_by_request_id, parse_log

    get = ("get", "configmap", "-n", "mesh-system", "istio-1-30", "-o", "jsonpath={.data.mesh}")
    original = lab.k(*get).stdout

    def set_mesh(mesh: str, name: str) -> int:
        patch = tmp_path / name
        patch.write_text(json.dumps({"data": {"mesh": mesh}}))
        cm = ("configmap", "-n", "mesh-system", "istio-1-30")
        return lab.k("patch", *cm, "--type", "merge", "--patch-file", str(patch)).returncode

    assert set_mesh(original + "accessLogEncoding: JSON\n", "patch.json") == 0
    try:
        src = "bookinfo/traffic-generator"

        def json_line() -> bool:
            rid = f"rid-json-{time.monotonic_ns()}"
            lab.curl(src, PP, rid)
            lines = lab.proxy_log_lines(src, rid, timeout=0.5)
            return bool(lines) and lines[-1].startswith("{")

        wait_for("a JSON access-log line", json_line, 15)
        lab.curl(src, PP, "rid-json-parsed")
        entries = find_by_request_id(
            parse_log("\n".join(lab.proxy_log_lines(src, "rid-json-parsed"))), "rid-json-parsed"
        )
        assert entries and entries[-1].response_code == 503 and "UC" in entries[-1].response_flags
    finally:
        set_mesh(original, "restore.json")


def test_killed_envoy_is_reported_and_restarted_like_a_kubelet_would(lab: LabHandle) -> None:
    """Runs last in this module: it kills productpage's sidecar (twice)."""
    pod = lab.pod("bookinfo", "productpage")

    def row() -> list[str]:
        return lab.k("get", "pod", "-n", "bookinfo", pod, "--no-headers").stdout.split()

    def proxy_status() -> dict[str, Any]:
        status = json.loads(lab.k("get", "pod", "-n", "bookinfo", pod, "-o", "json").stdout)["status"]
        return next(s for s in status["initContainerStatuses"] if s["name"] == "istio-proxy")

    def logs(*extra: str) -> str:
        r = lab.k("logs", "-n", "bookinfo", pod, "-c", "istio-proxy", *extra)
        return r.stdout + r.stderr

    reviews = "http://reviews.bookinfo.svc.corp.internal:9080/reviews/0"
    assert lab.curl("bookinfo/productpage", reviews, "rid-before-crash").stdout == "200"
    assert lab.proxy_log_lines("bookinfo/productpage", "rid-before-crash")
    assert f'previous terminated container "istio-proxy" in pod "{pod}" not found' in logs("-p")
    # First exit: restarted at once (kubelet), not ready until its probe passes, then 2/2 again.
    lab.crash_sidecar("bookinfo", "productpage", times=1)
    wait_for("restart count 1", lambda: row()[3] == "1", 10)
    status = proxy_status()
    assert status["restartCount"] == 1
    assert (status["lastState"]["terminated"]["exitCode"], status["lastState"]["terminated"]["reason"]) == (
        137,
        "Error",
    )
    wait_for("the sidecar ready again", lambda: row()[1] == "2/2", 15)
    # The new instance has its own log; the last one is kept for `kubectl logs -p`.
    assert "rid-before-crash" not in logs() and "rid-before-crash" in logs("-p")
    assert lab.curl("traffic-generator/traffic-generator", PP, "rid-after-restart").stdout == "200"
    # A second exit soon after: CrashLoopBackOff; the sidecar stays down for the 10 s back-off and a
    # client meets a dead server sidecar (nothing listens on the pod's port) while the status says why.
    lab.crash_sidecar("bookinfo", "productpage", times=1)
    wait_for("CrashLoopBackOff", lambda: row()[2] == "Init:CrashLoopBackOff", 10)
    assert row()[1] == "1/2"
    assert proxy_status()["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    ready = lab.k(
        "get", "pod", "-n", "bookinfo", pod, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
    )
    assert ready.stdout == "False"
    assert lab.curl("traffic-generator/traffic-generator", PP, "rid-server-down").stdout == "503"
    wait_for("the restart after the back-off", lambda: row()[3] == "2" and row()[1] == "2/2", 25)
