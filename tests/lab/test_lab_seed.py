"""Issue 4's done-criteria: the seed reproduced by hand with the real kubectl against the lab."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.lab import LabHandle

pytestmark = [pytest.mark.envoy, pytest.mark.lab]
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
FIX = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: destrule-productpage, namespace: bookinfo}
spec:
  host: productpage
  trafficPolicy:
    loadBalancer: {simple: LEAST_CONN}
    tls: {mode: ISTIO_MUTUAL}
"""


def curl_status(lab: LabHandle, namespace: str) -> str:
    r = lab.k("exec", "-n", namespace, lab.pod(namespace, "traffic-generator"), "--",
              "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", URL)  # fmt: skip
    return r.stdout


def test_pods_carry_default_container(seed_lab: LabHandle) -> None:
    r = seed_lab.k("get", "pods", "-n", "load-test", "-o", "json")
    pod = json.loads(r.stdout)["items"][0]
    assert pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "traffic-generator"


def test_load_test_generator_gets_503_connection_termination(seed_lab: LabHandle) -> None:
    pod = seed_lab.pod("load-test", "traffic-generator")
    r = seed_lab.k(
        "exec", "-n", "load-test", pod, "--", "curl", "-sS", "-v", "-H", "x-request-id: seed-rid-1", URL
    )
    assert r.returncode == 0, r.stderr
    assert "< HTTP/1.1 503" in r.stderr
    assert (
        r.stdout
        == "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
    )
    logs = seed_lab.k("logs", "-n", "load-test", pod, "-c", "istio-proxy")
    line = next(line for line in logs.stdout.splitlines() if "seed-rid-1" in line)
    assert '" 503 UC ' in line and "outbound|9080||productpage.bookinfo.svc.cluster.local" in line


def test_config_dump_shows_bookinfo_dr_and_no_tls(seed_lab: LabHandle) -> None:
    pod = seed_lab.pod("load-test", "traffic-generator")
    r = seed_lab.k(
        "exec",
        "-n",
        "load-test",
        pod,
        "-c",
        "istio-proxy",
        "--",
        "pilot-agent",
        "request",
        "GET",
        "config_dump",
    )
    assert r.returncode == 0, r.stderr
    dump = json.loads(r.stdout)
    clusters = [
        c["cluster"]
        for section in dump["configs"]
        for c in section.get("dynamic_active_clusters", [])
        if c["cluster"]["name"] == "outbound|9080||productpage.bookinfo.svc.cluster.local"
    ]
    assert len(clusters) == 1
    cluster = clusters[0]
    config = cluster["metadata"]["filter_metadata"]["istio"]["config"]
    assert config == "/apis/networking.istio.io/v1/namespaces/bookinfo/destination-rule/destrule-productpage"
    assert "transport_socket" not in cluster and "transport_socket_matches" not in cluster
    assert cluster["lb_policy"] == "LEAST_REQUEST"


def test_client_namespace_rule_keeps_traffic_generator_healthy(seed_lab: LabHandle) -> None:
    assert curl_status(seed_lab, "traffic-generator") == "200"


def test_applying_the_fix_heals_load_test_within_seconds(seed_lab: LabHandle, tmp_path: Path) -> None:
    assert curl_status(seed_lab, "load-test") == "503"
    (tmp_path / "fix.yaml").write_text(FIX)
    r = seed_lab.k("apply", "-f", str(tmp_path / "fix.yaml"))
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    status = ""
    while time.monotonic() < deadline:
        status = curl_status(seed_lab, "load-test")
        if status == "200":
            break
        time.sleep(0.2)
    assert status == "200"
