"""Offline diagnosis agrees with the live one: logging off and a dead server istio-proxy from resources/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from agent.bundle.read import load_bundle
from agent.bundle.to_input import diagnose_bundle
from agent.model import Verdict

REFUSED = (
    "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
    "remote connection failure, transport failure reason: delayed connect error: Connection refused"
)


def server_pod(ready: bool) -> dict[str, Any]:
    """A native-sidecar pod as Istio injects it (initContainers istio-proxy, restartPolicy Always)."""
    status = {
        "name": "istio-proxy",
        "ready": ready,
        "restartCount": 0 if ready else 3,
        "state": {"running": {}} if ready else {"waiting": {"reason": "CrashLoopBackOff"}},
    }
    if not ready:
        status["lastState"] = {
            "terminated": {"exitCode": 137, "reason": "Error", "finishedAt": "2026-12-07T10:00:00Z"}
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": "bookinfo",
            "name": "productpage-v1-abc",
            "labels": {"app": "productpage", "security.istio.io/tlsMode": "istio"},
        },
        "spec": {
            "containers": [{"name": "productpage"}],
            "initContainers": [{"name": "istio-proxy", "restartPolicy": "Always"}],
        },
        "status": {"phase": "Running", "initContainerStatuses": [status]},
    }


def write(tmp: Path, ready: bool, mesh: str) -> Path:
    objects = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"namespace": "istio-system", "name": "istio"},
            "data": {"mesh": mesh},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"namespace": "bookinfo", "name": "productpage"},
            "spec": {"selector": {"app": "productpage"}, "ports": [{"port": 9080}]},
        },
        server_pod(ready),
    ]
    (tmp / "resources").mkdir()
    (tmp / "resources" / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    probe = {
        "source": {"namespace": "load-test", "workload": "tg", "pod": "tg-1", "container": "tg"},
        "target": "http://productpage.bookinfo.svc.cluster.local:9080/",
        "request_id": "r1",
        "expected_status": 200,
        "start_time": "2026-12-07T10:00:05Z",
    }
    (tmp / "probe.json").write_text(json.dumps(probe))
    (tmp / "curl.stdout").write_text(REFUSED)
    (tmp / "curl.stderr").write_text("< HTTP/1.1 503 Service Unavailable\n< server: envoy\n")
    (tmp / "curl.exit").write_text("0\n")
    return tmp


def test_offline_dead_server_sidecar_and_logging_off(tmp_path: Path) -> None:
    d = diagnose_bundle(load_bundle(write(tmp_path, False, "rootNamespace: istio-system\n")))
    assert d.verdict is Verdict.UPSTREAM_CONNECTION_REFUSED
    assert "istio-proxy" in d.summary and "bookinfo/productpage-v1-abc" in d.summary
    assert any("access logging is off for this workload (server sidecar" in e for e in d.evidence)


def test_offline_healthy_sidecar_logging_on(tmp_path: Path) -> None:
    """Healthy row: ready sidecar, logging on but no log file kept: no sidecar blame, no logging line."""
    d = diagnose_bundle(load_bundle(write(tmp_path, True, "accessLogFile: /dev/stdout\n")))
    assert d.verdict is Verdict.UPSTREAM_CONNECTION_REFUSED and "istio-proxy" not in d.summary
    assert not any("access logging is off" in e for e in d.evidence)


def test_bundle_keeps_what_the_offline_decisions_need() -> None:
    """The agent's bundle keeps the mesh ConfigMap (also istio-<rev>), Telemetry, VirtualService and
    native-sidecar init containers with their status; still no env values."""
    from agent.bundle.keep import _resources
    from agent.config import parse_config
    from agent.kube.cluster import PodInfo

    pod = server_pod(False)
    pod["spec"]["initContainers"][0]["env"] = [{"name": "SECRET", "value": "x"}]
    objects = [
        {
            "kind": "ConfigMap",
            "metadata": {"namespace": "mesh-system", "name": "istio-1-30"},
            "data": {"mesh": "{}"},
        },
        {
            "kind": "Telemetry",
            "apiVersion": "telemetry.istio.io/v1",
            "metadata": {"namespace": "bookinfo", "name": "t"},
        },
        {
            "kind": "VirtualService",
            "apiVersion": "networking.istio.io/v1",
            "metadata": {"namespace": "bookinfo", "name": "v"},
        },
        pod,
    ]
    path = parse_config(
        {
            "paths": [
                {
                    "name": "p",
                    "from": {"namespace": "load-test", "workload": "tg"},
                    "to": {"service": "productpage", "namespace": "bookinfo", "port": 9080},
                }
            ]
        }
    ).paths[0]
    text = _resources(objects, PodInfo("load-test", "tg-1"), path)["objects.yaml"]
    kept = list(yaml.safe_load_all(text))
    assert [o["kind"] for o in kept] == ["ConfigMap", "Telemetry", "VirtualService", "Pod"]
    assert kept[3]["spec"]["initContainers"] == [{"name": "istio-proxy", "restartPolicy": "Always"}]
    assert kept[3]["status"]["initContainerStatuses"][0]["restartCount"] == 3
