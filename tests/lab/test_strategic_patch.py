"""The emulator's strategic merge patch handles what `kubectl apply` sends for a changed list."""

from __future__ import annotations

from typing import Any

import pytest

from meshlab.apiserver import patch

SVC: dict[str, Any] = {
    "spec": {
        "ports": [
            {"name": "http", "port": 9080, "targetPort": 9080},
            {"name": "admin", "port": 9090, "targetPort": 9090},
        ]
    }
}


@pytest.mark.parametrize(
    ("body", "ports"),
    [
        pytest.param({"spec": {}}, [9080, 9090], id="no-change"),
        pytest.param(
            {
                "spec": {
                    "$setElementOrder/ports": [{"port": 9080}],
                    "ports": [{"$patch": "delete", "port": 9090}],
                }
            },
            [9080],
            id="kubectl-apply-removes-a-port",
        ),
        pytest.param(
            {"spec": {"ports": [{"name": "grpc", "port": 7070, "targetPort": 7070}]}},
            [9080, 9090, 7070],
            id="new-named-port-appended",
        ),
        pytest.param(
            {
                "spec": {
                    "$setElementOrder/ports": [{"port": 7070}, {"port": 9080}, {"port": 9090}],
                    "ports": [{"name": "grpc", "port": 7070}],
                }
            },
            [7070, 9080, 9090],
            id="set-element-order",
        ),
        pytest.param(
            {"spec": {"ports": [{"name": "http", "targetPort": 19080}]}},
            [9080, 9090],
            id="merge-by-name",
        ),
    ],
)
def test_strategic_list_merge(body: dict[str, Any], ports: list[int]) -> None:
    out = patch.apply_patch(patch.STRATEGIC, SVC, body)
    assert [p["port"] for p in out["spec"]["ports"]] == ports
    assert all("$patch" not in p for p in out["spec"]["ports"])


def test_merge_by_name_keeps_other_fields() -> None:
    body = {"spec": {"ports": [{"name": "http", "targetPort": 19080}]}}
    out = patch.apply_patch(patch.STRATEGIC, SVC, body)
    assert out["spec"]["ports"][0] == {"name": "http", "port": 9080, "targetPort": 19080}


def test_unkeyed_list_is_replaced() -> None:
    out = patch.apply_patch(patch.STRATEGIC, {"spec": {"args": ["a", "b"]}}, {"spec": {"args": ["c"]}})
    assert out["spec"]["args"] == ["c"]
