"""The lab's curl-less images, ephemeral probe containers and the proxy's sidecar bypass, end to end:
real Envoy, the API-server emulator, the pinned kubectl and the agent's pipeline over LiveCluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.bundle.keep import EvidenceSettings
from agent.check.context import CheckContext
from agent.check.run import run_check
from agent.check.via import ViaState
from agent.config import parse_config
from agent.config.probe_via import PROBE_CONTAINER_NAME, ProbeContainerConfig
from agent.kube.live import LiveCluster
from tests.support.lab import LabHandle, run_lab

pytestmark = [pytest.mark.envoy, pytest.mark.lab]
PRODUCTPAGE = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
LEGACY = "http://legacy-api.legacy.svc.cluster.local:8080/health"


@pytest.fixture(scope="module")
def no_curl_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    yield from run_lab("seed-no-curl", tmp_path_factory.mktemp("seed-no-curl"))


def test_exec_curl_in_a_curl_less_image_fails_like_a_runtime(no_curl_lab: LabHandle) -> None:
    r = no_curl_lab.curl("load-test/traffic-generator", PRODUCTPAGE, "rid-no-curl")
    assert r.returncode != 0
    assert "executable file not found in $PATH" in r.stderr, r.stderr
    ok = no_curl_lab.k("exec", "-n", "load-test", no_curl_lab.pod("load-test", "traffic-generator"),
                       "--", "echo", "slim")  # fmt: skip
    assert ok.stdout.strip() == "slim"  # the container itself works: only curl is missing


def test_agent_probes_from_an_ephemeral_container(no_curl_lab: LabHandle, tmp_path: Path) -> None:
    config = parse_config(
        {"paths": [{"name": "load-test-to-productpage",
                    "from": {"namespace": "load-test", "workload": "traffic-generator"}, "to": {"url": PRODUCTPAGE}}]}
    )  # fmt: skip
    created: list[str] = []
    assert no_curl_lab.lab.kubeconfig is not None
    with LiveCluster.from_kubeconfig(str(no_curl_lab.lab.kubeconfig)) as live:
        ctx = CheckContext.for_cluster(
            live,
            evidence=EvidenceSettings(dir=tmp_path),
            via=ViaState(settings=ProbeContainerConfig(), on_created=created.append),
        )
        first = run_check(config.paths[0], ctx)
        second = run_check(config.paths[0], ctx)
    for result in (first, second):
        assert result.diagnosis.verdict.value == "mtls_plaintext_to_strict", result.diagnosis.summary
        assert result.diagnosis.confidence.value == "high"
        assert result.source.container == PROBE_CONTAINER_NAME
    assert created == ["load-test"]  # added once, reused by the second run
    assert first.bundle_dir is not None
    probe = json.loads((first.bundle_dir / "probe.json").read_text())
    assert probe["source"]["container"] == PROBE_CONTAINER_NAME
    pod = no_curl_lab.pod("load-test", "traffic-generator")
    spec = no_curl_lab.k("get", "pod", "-n", "load-test", pod, "-o", "json")
    eph = json.loads(spec.stdout)["spec"]["ephemeralContainers"]
    assert [c["name"] for c in eph] == [PROBE_CONTAINER_NAME]
    # The probe's request crossed the pod's own sidecar: its access log has the request, 503 UC.
    lines = no_curl_lab.proxy_log_lines("load-test/traffic-generator", "")
    assert any('" 503 UC ' in line or " 503 UC " in line for line in lines), lines[-3:]


def test_proxy_uid_bypasses_the_sidecar(tmp_path: Path) -> None:
    """Why istio-proxy (UID 1337) is refused as a probe source: its curl is not redirected to the sidecar,
    so it reaches the sidecar-less server in plaintext and succeeds where the app's request fails."""
    gen = run_lab("mtls-to-no-sidecar", tmp_path)
    lab = next(gen)
    try:
        app = lab.curl("load-test/traffic-generator", LEGACY, "rid-app")
        assert app.stdout == "503", app.stderr  # the app: mTLS to a plaintext server, 503 UF
        pod = lab.pod("load-test", "traffic-generator")
        proxy = lab.k("exec", "-n", "load-test", pod, "-c", "istio-proxy", "--",
                      "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "x-request-id: rid-proxy", LEGACY)  # fmt: skip
        assert proxy.stdout == "200", proxy.stderr  # the proxy's own UID: no sidecar, a false healthy
        assert lab.proxy_log_lines("load-test/traffic-generator", "rid-app")  # the app's crossed the sidecar
        assert not lab.proxy_log_lines(
            "load-test/traffic-generator", "rid-proxy", timeout=1.0
        )  # this one not
    finally:
        next(gen, None)
