"""A server pod's dead sidecar is named, not the app (issue 14, item 7): real Envoy sidecars, the lab's
kubelet holding the Envoy in CrashLoopBackOff, the real pipeline over the official client, and the
pinned kubectl showing the restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.check.context import CheckContext
from agent.check.run import run_check
from agent.config import parse_config
from agent.kube.live import LiveCluster
from tests.support.lab import LabHandle, run_lab

pytestmark = [pytest.mark.envoy, pytest.mark.lab]
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    yield from run_lab("seed", tmp_path_factory.mktemp("dead-server-sidecar"))


def test_dead_server_sidecar_is_named_not_the_app(lab: LabHandle) -> None:
    config = parse_config(
        {
            "paths": [
                {
                    "name": "healthy",
                    "from": {"namespace": "traffic-generator", "workload": "traffic-generator"},
                    "to": {"url": URL},
                }
            ]
        }
    )
    assert lab.lab.kubeconfig is not None
    with LiveCluster.from_kubeconfig(str(lab.lab.kubeconfig)) as cluster:
        ctx = CheckContext.for_cluster(cluster)
        assert run_check(config.paths[0], ctx).healthy  # the path works while the sidecar lives
        lab.crash_sidecar("bookinfo", "productpage", times=2)  # the second exit waits out a back-off
        result = run_check(config.paths[0], ctx)
    pod = lab.pod("bookinfo", "productpage")
    d = result.diagnosis
    assert not d.healthy and result.error_stage is None, d.summary
    assert "istio-proxy" in d.summary and pod in d.summary, d.summary
    assert "check the app listens" not in d.summary  # the app is fine; its proxy is gone
    assert d.remedy is not None and "istio-proxy" in d.remedy.text, d.remedy
    row = lab.k("get", "pod", "-n", "bookinfo", pod, "--no-headers").stdout.split()
    assert row[1] == "1/2" and int(row[3]) >= 1, row  # READY 1/2, RESTARTS counted, as a kubelet shows
