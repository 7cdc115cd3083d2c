"""Error mapping from API Status bodies (REST and exec handshake) to agent.errors."""

from __future__ import annotations

import json

import pytest

from agent import errors
from agent.kube.errors_map import forbidden_message, handshake_status, map_status, parse_status


def status_body(code: int, reason: str, message: str) -> str:
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
    )


EXEC_403 = (
    'pods "productpage-v1" is forbidden: User "system:serviceaccount:probe:probe-agent" cannot get '
    'resource "pods/exec" in API group "" in the namespace "bookinfo"'
)
LIST_DR_403 = (
    'destinationrules.networking.istio.io is forbidden: User "system:serviceaccount:probe:probe-agent" cannot '
    'list resource "destinationrules" in API group "networking.istio.io" at the cluster scope'
)


@pytest.mark.parametrize(
    ("code", "reason", "message", "expected", "fragments"),
    [
        pytest.param(
            401, "Unauthorized", "Unauthorized", errors.Unauthorized, ["401", "credentials"], id="401"
        ),
        pytest.param(
            403,
            "Forbidden",
            EXEC_403,
            errors.Forbidden,
            ["system:serviceaccount:probe:probe-agent", 'get "pods/exec"', 'namespace "bookinfo"'],
            id="403-exec-namespaced",
        ),
        pytest.param(
            403,
            "Forbidden",
            LIST_DR_403,
            errors.Forbidden,
            [
                'list "destinationrules.networking.istio.io"',
                "cluster scope",
                "apiGroups: [networking.istio.io]",
            ],
            id="403-crd-cluster-scope",
        ),
        pytest.param(
            403, "Forbidden", "weird", errors.Forbidden, ["forbidden by RBAC: weird"], id="403-unparsed"
        ),
        pytest.param(
            404, "NotFound", 'pods "x" not found', errors.NotFound, ["pod bookinfo/x not found"], id="404"
        ),
        pytest.param(
            400,
            "BadRequest",
            "container nosuch is not valid for pod p",
            errors.ContainerNotFound,
            ["container nosuch is not valid"],
            id="400-container",
        ),
        pytest.param(
            400,
            "BadRequest",
            "a container name must be specified for pod p, choose one of: [a b]",
            errors.ContainerNotFound,
            ["choose one of"],
            id="400-container-required",
        ),
        pytest.param(
            400,
            "BadRequest",
            "pod p does not have a host assigned",
            errors.PodNotReady,
            ["host assigned"],
            id="400-unscheduled",
        ),
        pytest.param(503, "ServiceUnavailable", "down", errors.ClusterUnreachable, ["503"], id="503"),
        pytest.param(500, "InternalError", "boom", errors.ClusterError, ["500", "boom"], id="500-generic"),
    ],
)
def test_map_status(code: int, reason: str, message: str, expected: type, fragments: list[str]) -> None:
    err = map_status(parse_status(code, status_body(code, reason, message)), what="pod bookinfo/x")
    assert type(err) is expected
    for fragment in fragments:
        assert fragment in str(err)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        pytest.param(status_body(404, "NotFound", "gone"), 404, "gone", id="status-json"),
        pytest.param(b'{"message": "bytes body"}', 400, "bytes body", id="bytes"),
        pytest.param("<html>bad gateway</html>", 502, "<html>bad gateway</html>", id="not-json"),
        pytest.param(None, 401, "", id="empty"),
        pytest.param("[1, 2]", 500, "[1, 2]", id="json-not-object"),
    ],
)
def test_parse_status(body: str | bytes | None, code: int, message: str) -> None:
    st = parse_status(code, body)
    assert (st.code, st.message) == (code, message)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        pytest.param(
            "Handshake status 403 Forbidden -+-+- {'content-type': 'application/json'} -+-+- {\"code\": 403}",
            (403, '{"code": 403}'),
            id="403-with-body",
        ),
        pytest.param("Handshake status 404 Not Found", (404, ""), id="404-no-body"),
        pytest.param("Connection refused", None, id="not-a-handshake"),
        pytest.param(None, None, id="none"),
    ],
)
def test_handshake_status(reason: str | None, expected: tuple[int, str] | None) -> None:
    assert handshake_status(reason) == expected


def test_forbidden_message_names_verb_resource_namespace() -> None:
    msg = forbidden_message(EXEC_403)
    assert msg.startswith(
        'system:serviceaccount:probe:probe-agent lacks permission to get "pods/exec" in namespace'
    )
    assert "verbs: [get]" in msg
