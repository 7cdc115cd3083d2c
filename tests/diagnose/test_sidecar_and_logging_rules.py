"""Sidecar health before blaming the app; an absent access-log line is not evidence when logging is off.

Pod status shapes: Kubernetes core/v1 ContainerStatus; native sidecars as Istio injects them
(istio/istio 86c9f01f pkg/kube/inject/testdata/inject/native-sidecar.yaml.injected: istio-proxy in
initContainers, restartPolicy Always, status in initContainerStatuses).
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.evidence import CurlResult, PolicyView
from agent.istio.sidecar_health import SidecarStatus, sidecar_status, trouble
from agent.kube.objects import pod_from_dict
from agent.model import Confidence, Verdict

LOCAL = {"server": "envoy", "content-type": "text/plain"}
REFUSED = (
    "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
    "remote connection failure, transport failure reason: delayed connect error: Connection refused"
)
POD = "bookinfo/productpage-v1-abc"


def pod(
    native: bool, ready: bool, restarts: int = 0, state: str = "running", last: dict[str, Any] | None = None
) -> dict[str, Any]:
    proxy = {"name": "istio-proxy", "image": "proxyv2"}
    app = {"name": "productpage", "image": "pp"}
    spec: dict[str, Any] = {"containers": [app]}
    cs: dict[str, Any] = {
        "name": "istio-proxy",
        "ready": ready,
        "restartCount": restarts,
        "state": {state: {}},
    }
    if state == "waiting":
        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    if last:
        cs["lastState"] = {"terminated": last}
    status: dict[str, Any] = {
        "phase": "Running",
        "containerStatuses": [{"name": "productpage", "ready": True}],
    }
    if native:
        spec["initContainers"] = [{"name": "istio-init"}, {**proxy, "restartPolicy": "Always"}]
        status["initContainerStatuses"] = [cs]
    else:
        spec["containers"].append(proxy)
        status["containerStatuses"].append(cs)
    meta = {
        "namespace": "bookinfo",
        "name": "productpage-v1-abc",
        "labels": {"security.istio.io/tlsMode": "istio"},
    }
    return {"metadata": meta, "spec": spec, "status": status}


KILLED = {"exitCode": 137, "reason": "Error", "finishedAt": "2026-12-07T10:00:00Z"}
AT = 1796637600.0  # 2026-12-07T10:00:00Z


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        pytest.param(pod(False, True), None, id="healthy-classic"),
        pytest.param(pod(True, True), None, id="healthy-native"),
        pytest.param(
            pod(True, False, 2, "waiting", KILLED),
            "not ready (waiting: CrashLoopBackOff)",
            id="native-crashloop",
        ),
        pytest.param(
            pod(False, False, 1, "running", KILLED), "restarted 1 time", id="classic-restarting-not-ready"
        ),
        pytest.param(
            pod(False, True, 1, "running", KILLED), "exit code 137 (Error)", id="back-but-restarted-at-probe"
        ),
        pytest.param(
            pod(False, True, 1, "running", {**KILLED, "finishedAt": "2026-12-06T10:00:00Z"}),
            None,
            id="old-restart-is-not-trouble",
        ),
    ],
)
def test_sidecar_trouble(manifest: dict[str, Any], problem: str | None) -> None:
    info = pod_from_dict(manifest)
    assert info.has_sidecar  # native sidecars count as sidecars too
    found = trouble(info.sidecar, AT)
    assert found is None if problem is None else (found is not None and problem in found)


def test_no_sidecar_no_status() -> None:
    manifest = pod(False, True)
    manifest["spec"]["containers"] = [{"name": "productpage"}]
    assert sidecar_status(manifest) is None and trouble(None, AT) is None


def _refused(**kw: Any) -> DiagnoseInput:
    curl = CurlResult(exit_code=0, http_status=503, response_headers=LOCAL, body=REFUSED)
    return DiagnoseInput(curl=curl, repeatable=True, **kw)


def test_dead_server_sidecar_is_named_not_the_app() -> None:
    what = SidecarStatus(True, False, 2, "waiting", "CrashLoopBackOff", "Error", 137).describe()
    d = classify(_refused(server_sidecar_trouble=((POD, what),)))
    assert d.verdict is Verdict.UPSTREAM_CONNECTION_REFUSED
    assert "istio-proxy" in d.summary and POD in d.summary and "not the app" in d.summary
    assert d.remedy is not None and "istio-proxy" in d.remedy.text and "productpage-v1-abc" in d.remedy.text
    assert "--previous" in d.remedy.text
    assert any(POD in e and "CrashLoopBackOff" in e for e in d.evidence)


def test_healthy_sidecar_refusal_still_blames_the_app() -> None:
    """Healthy row: no sidecar trouble, the refusal is the app's."""
    d = classify(_refused())
    assert d.verdict is Verdict.UPSTREAM_CONNECTION_REFUSED
    assert "istio-proxy" not in d.summary


def _reset_by_strict_server(**kw: Any) -> DiagnoseInput:
    # curl exit 52/56: no sidecar on the client, the server closed the connection
    curl = CurlResult(exit_code=56, error="(56) Recv failure: Connection reset by peer", connected=True)
    return DiagnoseInput(curl=curl, client_has_sidecar=False, **kw)


def test_absent_log_is_not_evidence_when_logging_off() -> None:
    d = classify(
        _reset_by_strict_server(
            server_log_present=False, logging_off={"server": "meshConfig.accessLogFile is empty"}
        )
    )
    assert d.confidence is Confidence.LOW
    assert not any("never logged" in e for e in d.evidence)
    assert any("access logging is off for this workload" in e for e in d.evidence)


def test_absent_log_counts_only_when_logging_known_on() -> None:
    unknown = classify(_reset_by_strict_server(server_log_present=True))
    known = classify(_reset_by_strict_server(server_log_present=True, server_logging_on=True))
    assert not any("never logged" in e for e in unknown.evidence) and unknown.confidence is Confidence.LOW
    assert any("never logged" in e for e in known.evidence) and known.confidence is Confidence.MEDIUM


def test_partial_view_lowers_policy_verdicts() -> None:
    body = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
    curl = CurlResult(exit_code=0, http_status=503, response_headers=LOCAL, body=body)
    policy = PolicyView(
        "p.b.svc.cluster.local", 9080, "CONFLICT", "DISABLE", "destination_rule", "STRICT", "b/dr", "b/pa"
    )
    gap = "ConfigMap istio-system/istio: forbidden (needs get configmaps in istio-system)"
    full = classify(DiagnoseInput(curl=curl, policy=policy, repeatable=True))
    partial = classify(DiagnoseInput(curl=curl, policy=policy, repeatable=True, view_gaps=(gap,)))
    assert full.verdict is partial.verdict is Verdict.MTLS_PLAINTEXT_TO_STRICT
    assert full.confidence is not Confidence.LOW and partial.confidence is Confidence.LOW
    assert any(gap in e for e in partial.evidence)


def test_logging_unknown_is_said_and_not_evidence() -> None:
    why = "Telemetry resources: forbidden (needs list telemetries.telemetry.istio.io cluster-wide)"
    d = classify(
        _reset_by_strict_server(server_log_present=True, logging_unknown={"server": f"bookinfo/pp-1: {why}"})
    )
    assert any("whether the server sidecar logs is unknown" in e and "forbidden" in e for e in d.evidence)
    assert not any("never logged" in e for e in d.evidence) and d.confidence is Confidence.LOW
