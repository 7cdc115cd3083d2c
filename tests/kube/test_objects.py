"""Pod/Service conversion, selectors and workload ownership (pure)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from agent.errors import InputError
from agent.kube.cluster import PodInfo
from agent.kube.objects import (
    Endpoint,
    endpoints_from_dict,
    endpoints_from_slice,
    owned_by_workload,
    pod_from_dict,
    ready_first,
    selector_from_labels,
    service_from_dict,
    validate_label_selector,
    validate_name,
)


def pod(
    name: str = "productpage-v1-6b746f74dc-9stvs",
    owner: tuple[str, str] | None = ("ReplicaSet", "productpage-v1-6b746f74dc"),
    ready: str = "True",
    annotations: dict[str, str] | None = None,
    init: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "bookinfo",
        "labels": {
            "app": "productpage",
            "pod-template-hash": "6b746f74dc",
            "security.istio.io/tlsMode": "istio",
        },
        "annotations": annotations or {},
    }
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {
        "metadata": meta,
        "spec": {
            "serviceAccountName": "bookinfo-productpage",
            "containers": [{"name": "istio-proxy"}, {"name": "productpage"}],
            "initContainers": init or [],
        },
        "status": {
            "phase": "Running",
            "podIP": "10.1.0.7",
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


@pytest.mark.parametrize(
    ("obj", "checks"),
    [
        pytest.param(
            pod(),
            {"ready": True, "app_container": "productpage", "has_sidecar": True, "owner_kind": "ReplicaSet"},
            id="healthy-injected",
        ),
        pytest.param(pod(ready="False"), {"ready": False}, id="not-ready"),
        pytest.param(
            pod(annotations={"kubectl.kubernetes.io/default-container": "istio-proxy"}),
            {"app_container": "istio-proxy"},
            id="default-container-annotation",
        ),
        pytest.param(
            pod(init=[{"name": "istio-init"}, {"name": "sidecar", "restartPolicy": "Always"}]),
            {"containers": ("istio-proxy", "productpage", "sidecar")},
            id="native-sidecar-init-container",
        ),
        pytest.param(
            {"metadata": {"name": "bare"}}, {"ready": False, "containers": (), "phase": "Unknown"}, id="empty"
        ),
    ],
)
def test_pod_from_dict(obj: dict[str, Any], checks: dict[str, Any]) -> None:
    info = pod_from_dict(obj)
    for attr, value in checks.items():
        assert getattr(info, attr) == value, attr


def test_service_from_dict() -> None:
    svc = service_from_dict(
        {
            "metadata": {"name": "reviews", "namespace": "bookinfo"},
            "spec": {
                "selector": {"app": "reviews"},
                "ports": [{"port": 9080, "name": "http", "targetPort": 9080}],
            },
        }
    )
    assert svc.fqdn == "reviews.bookinfo.svc.cluster.local"
    assert svc.ports[0].port == 9080 and svc.selector == {"app": "reviews"}


@pytest.mark.parametrize(
    ("owner", "workload", "expected"),
    [
        pytest.param(
            ("ReplicaSet", "productpage-v1-6b746f74dc"), "productpage-v1", True, id="deployment-via-rs"
        ),
        pytest.param(("ReplicaSet", "productpage-v1-6b746f74dc"), "productpage-v1-6b746f74dc", True, id="rs"),
        pytest.param(("StatefulSet", "db"), "db", True, id="statefulset"),
        pytest.param(("DaemonSet", "agent"), "agent", True, id="daemonset"),
        pytest.param(
            ("ReplicaSet", "productpage-v1-6b746f74dc"), "productpage", False, id="other-deployment"
        ),
        pytest.param(None, "productpage-v1", False, id="no-owner"),
    ],
)
def test_owned_by_workload(owner: tuple[str, str] | None, workload: str, expected: bool) -> None:
    assert owned_by_workload(pod_from_dict(pod(owner=owner)), workload) is expected


# A valid input comes back (a selector normalised to `k=v,k2!=v2`); a bad one is an InputError naming it.
VALIDATE_POD_NAME = partial(validate_name, "pod")


@pytest.mark.parametrize(
    ("validate", "value", "expected", "error"),
    [
        pytest.param(validate_label_selector, "app=reviews", "app=reviews", None, id="simple"),
        pytest.param(validate_label_selector, "app=reviews, version!=v1", "app=reviews,version!=v1", None, id="two-terms"),
        pytest.param(validate_label_selector, "app.kubernetes.io/name==reviews", "app.kubernetes.io/name==reviews", None,
                     id="prefixed-key"),
        pytest.param(validate_label_selector, "app=reviews;rm -rf", None, "invalid label selector", id="injection"),
        pytest.param(validate_label_selector, "=x", None, "invalid label selector", id="no-key"),
        pytest.param(validate_label_selector, "app in (a,b)", None, "invalid label selector", id="set-based-unsupported"),
        pytest.param(VALIDATE_POD_NAME, "reviews-v1", "reviews-v1", None, id="ok"),
        pytest.param(VALIDATE_POD_NAME, "../secrets", None, "invalid pod name", id="path"),
        pytest.param(VALIDATE_POD_NAME, "Caps", None, "invalid pod name", id="caps"),
        pytest.param(VALIDATE_POD_NAME, "", None, "invalid pod name", id="empty"),
    ],
)  # fmt: skip
def test_validate_input(
    validate: Callable[[str], str], value: str, expected: str | None, error: str | None
) -> None:
    if error is None:
        assert validate(value) == expected
    else:
        with pytest.raises(InputError, match=error):
            validate(value)


def test_selector_from_labels_sorted() -> None:
    assert selector_from_labels({"version": "v1", "app": "reviews"}) == "app=reviews,version=v1"


def test_ready_first() -> None:
    pods = [PodInfo("ns", "b", ready=False), PodInfo("ns", "c"), PodInfo("ns", "a", phase="Pending")]
    assert [p.name for p in ready_first(pods)] == ["c", "a", "b"]


def test_endpoints_from_dict_and_slice() -> None:
    eps = endpoints_from_dict(
        {
            "subsets": [
                {
                    "addresses": [{"ip": "10.1.0.8", "targetRef": {"kind": "Pod", "name": "reviews-1"}}],
                    "notReadyAddresses": [{"ip": "10.1.0.9"}],
                    "ports": [{"port": 9080}],
                }
            ]
        }
    )
    assert eps == [
        Endpoint("10.1.0.8", True, "reviews-1", (9080,)),
        Endpoint("10.1.0.9", False, None, (9080,)),
    ]
    sl = endpoints_from_slice(
        {
            "ports": [{"port": 9080}],
            "endpoints": [{"addresses": ["10.1.0.8"], "conditions": {"ready": False}}],
        }
    )
    assert sl == [Endpoint("10.1.0.8", False, None, (9080,))]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["curl", "-sS", "http://x/"], "curl", id="direct"),
        pytest.param(["/usr/bin/curl"], "curl", id="absolute"),
        pytest.param(["env", "LANG=C", "curl", "-s"], "curl", id="env-wrapper"),
        pytest.param(["timeout", "-s", "KILL", "5", "curl"], "curl", id="timeout-wrapper"),
        pytest.param(["sh", "-c", "curl x"], "sh", id="shell"),
    ],
)
def test_target_program(argv: list[str], expected: str) -> None:
    from agent.kube.exec_call import target_program

    assert target_program(argv) == expected
