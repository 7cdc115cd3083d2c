"""Our verdicts on the retired 1.5 `istioctl analyze` mTLS fixtures and on Kiali's validation fixtures.

Where the semantics agree the ids say `agrees-...`; where ours differ the id says `differs-...` and
tests/istio/README.md explains why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.istio.engine import PolicyEngine
from agent.istio.load import load_objects_from_dir
from tests.support.istio_builders import mesh, pod, svc
from tests.support.shared_data import REAL

SHARED = REAL / "policy_scenarios"
if not SHARED.is_dir():
    SHARED = Path(__file__).resolve().parents[3] / "shared/fixtures/istio-real/policy_scenarios"
ANALYZER = SHARED / "istio_analyzer_1.5_mtls"
KIALI = SHARED / "kiali"


def conflicts(objs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    engine = PolicyEngine(objs)
    return {(ns, f"{v.host.split('.')[0]}:{v.port}") for ns, v in engine.audit() if v.status == "CONFLICT"}


@pytest.mark.parametrize(
    ("file", "want"),
    [
        pytest.param(
            "mtls-exports.yaml", {("secondary", "myservice:80")}, id="agrees-IST0113-dr-not-exported"
        ),
        pytest.param(
            "mtls-no-dr.yaml", {("missing-dr", "missing-dr-service:80")}, id="agrees-IST0113-strict-no-dr"
        ),
        pytest.param(
            "mtls-no-policy.yaml",
            {("no-policy", "missing-policy-service:80")},
            id="agrees-IST0113-mtls-to-plaintext",
        ),
        pytest.param(
            "mtls-with-port.yaml",
            {("my-namespace", "my-service:8081")},
            id="agrees-IST0113-port-8081-udp-ignored",
        ),
        pytest.param("mtls-ignores-system-namespaces.yaml", set(), id="agrees-no-false-positive-kube-system"),
        pytest.param("mtls-meshpolicy-permissive.yaml", set(), id="agrees-permissive-never-conflicts"),
        pytest.param("mtls-meshpolicy.yaml", set(), id="differs-no-workloads-no-rows"),
        pytest.param("mtls-global-dr-no-meshpolicy.yaml", set(), id="differs-no-workloads-no-rows-2"),
        pytest.param(
            "mtls-no-sidecar.yaml",
            {("istio-system", "no-sidecar-or-dr-service:80"), ("istio-system", "missing-pod-service:80")},
            id="agrees-IST0115-differs-podless-service-assumed-sidecar",
        ),
        pytest.param(
            "mtls-ignores-istio-control-plane.yaml",
            {("istio-system", "istio-telemetry:8080"), ("istio-system", "istio-telemetry:8081")},
            id="differs-control-plane-not-special-cased",
        ),
    ],
)
def test_istio_1_5_analyzer_fixtures(file: str, want: set[tuple[str, str]]) -> None:
    result = load_objects_from_dir(ANALYZER / file)
    assert result.notes == []
    assert conflicts(result.objects) == want


def test_analyzer_automtls_mesh_config_differs_unlabelled_pods() -> None:
    """The analyzer bails out when auto mTLS is on; we still evaluate it. These fixture pods carry no
    `security.istio.io/tlsMode: istio` label, so auto mTLS cannot mark them and the client sends
    plaintext to the STRICT server: still a conflict (with the label it would be OK)."""
    objs = load_objects_from_dir(ANALYZER / "mtls-no-dr.yaml").objects
    objs += load_objects_from_dir(ANALYZER / "mesh-with-automtls.yaml").objects
    engine = PolicyEngine(objs)
    view = engine.check("missing-dr", None, "missing-dr-service.missing-dr", 80)
    assert (view.status, view.client_mode_source, view.client_mode) == ("CONFLICT", "auto", "DISABLE")
    for o in objs:
        if o.get("kind") == "Pod":
            o["metadata"].setdefault("labels", {})["security.istio.io/tlsMode"] = "istio"
    assert PolicyEngine(objs).check("missing-dr", None, "missing-dr-service.missing-dr", 80).status == "OK"


def bookinfo() -> list[dict[str, Any]]:
    return [
        svc("bookinfo", "productpage", 9080),
        pod("bookinfo", "productpage-0", "productpage", port=9080),
        svc("bookinfo", "details", 9080),
        pod("bookinfo", "details-0", "details", port=9080),
        pod("bookinfo", "client-0", "client"),
    ]


@pytest.mark.parametrize(
    ("file", "extra", "want"),
    [
        pytest.param("dr_disabled_meshwide_checker_1.yaml", [], set(), id="agrees-none"),
        pytest.param("dr_disabled_meshwide_checker_2.yaml", [], {"productpage", "details"}, id="agrees-KIA0208"),
        pytest.param("dr_disabled_meshwide_checker_3.yaml", [], set(), id="agrees-none-workload-pa"),
        pytest.param("dr_disabled_meshwide_checker_4.yaml", [], set(), id="agrees-none-permissive"),
        pytest.param("kiali_io_example_007_KIA0207.yaml", [], {"productpage", "details"}, id="agrees-KIA0207-merged-first-policy-DISABLE"),
        pytest.param("pa_disabled_meshwide_checker_1.yaml", [], set(), id="agrees-none-mesh-disable"),
        pytest.param("pa_disabled_meshwide_checker_2.yaml", [], {"productpage", "details"}, id="agrees-KIA0506"),
        pytest.param("pa_disabled_meshwide_checker_3.yaml", [], set(), id="agrees-none-mesh-disable-no-dr"),
        pytest.param("pa_disabled_namespacewide_checker_1.yaml", [], {"details"}, id="differs-details-dr-istio-mutual-to-disable"),
        pytest.param("pa_disabled_namespacewide_checker_2.yaml", [], {"productpage", "details"}, id="agrees-KIA0505"),
        pytest.param("pa_disabled_namespacewide_checker_3.yaml", [], {"details"}, id="differs-details-dr-istio-mutual-to-disable-2"),
        pytest.param("pa_disabled_namespacewide_checker_4.yaml", [], {"productpage", "details"}, id="agrees-KIA0505-mesh-dr"),
        pytest.param("pa_disabled_namespacewide_checker_5.yaml", [], set(), id="agrees-none-auto-plaintext"),
        pytest.param("pa_disabled_namespacewide_checker_6.yaml", [], set(), id="agrees-none-ns-dr-disable"),
    ],
)  # fmt: skip
def test_kiali_fixtures(file: str, extra: list[dict[str, Any]], want: set[str]) -> None:
    result = load_objects_from_dir(KIALI / file)
    assert result.notes == []
    engine = PolicyEngine(result.objects + bookinfo() + extra)
    got = {
        v.host.split(".")[0] for v in engine.check_client("bookinfo", "client-0") if v.status == "CONFLICT"
    }
    assert got == want


@pytest.mark.parametrize(
    ("auto", "want"),
    [
        pytest.param(True, "OK", id="differs-KIA0204-harmless-with-auto-mtls"),
        pytest.param(False, "CONFLICT", id="agrees-KIA0204-seed-failure-without-auto-mtls"),
    ],
)
def test_kiali_kia0204_shadowed_mesh_dr(auto: bool, want: str) -> None:
    objs = load_objects_from_dir(KIALI / "kiali_io_example_005_KIA0204.yaml").objects
    objs += [
        mesh(enableAutoMtls=auto),
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
         "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}},
        svc("default", "reviews", 9080),
        pod("default", "reviews-0", "reviews", port=9080),
    ]  # fmt: skip
    view = PolicyEngine(objs).check("default", None, "reviews", 9080)
    assert view.status == want
    assert view.destination_rule == "default/reviews"
