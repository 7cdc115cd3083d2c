"""Table-driven tests of the emulator's pure parts: selectors, patches, log filtering, RBAC, Status."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from meshlab.apiserver import logs, patch, protobuf
from meshlab.apiserver.auth import Authenticator, RbacRule
from meshlab.apiserver.defaults import derive_endpoints
from meshlab.apiserver.resources import by_plural, resolve
from meshlab.apiserver.selectors import parse_field_selector, parse_selector
from meshlab.apiserver.status import ApiError, forbidden
from meshlab.apiserver.tables import human_age

LABELS = {"app": "reviews", "version": "v1"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("", True, id="empty-matches-all"),
        pytest.param("app=reviews", True, id="equals"),
        pytest.param("app==reviews,version=v1", True, id="double-equals-and"),
        pytest.param("app!=reviews", False, id="not-equals"),
        pytest.param("version in (v1, v2)", True, id="in"),
        pytest.param("version notin (v1)", False, id="notin"),
        pytest.param("app", True, id="exists"),
        pytest.param("!app", False, id="not-exists"),
        pytest.param("tier=web", False, id="missing-key"),
    ],
)
def test_label_selector(selector: str, expected: bool) -> None:
    assert parse_selector(selector)(LABELS) is expected


@pytest.mark.parametrize(
    "selector",
    [
        pytest.param("app=(", id="garbage"),
        pytest.param("a b c", id="spaces"),
    ],
)
def test_label_selector_rejects_garbage(selector: str) -> None:
    with pytest.raises(ApiError) as exc:
        parse_selector(selector)
    assert exc.value.code == 400 and "unable to parse requirement" in exc.value.body["message"]


@pytest.mark.parametrize(
    ("selector", "fields", "expected"),
    [
        pytest.param("metadata.name=a", {"metadata.name": "a"}, True, id="name-match"),
        pytest.param("metadata.name!=a", {"metadata.name": "a"}, False, id="name-differs"),
        pytest.param("status.phase=Running", {"status.phase": "Running"}, True, id="phase"),
    ],
)
def test_field_selector(selector: str, fields: dict[str, str], expected: bool) -> None:
    assert parse_field_selector(selector)(fields) is expected


def test_field_selector_unknown_field() -> None:
    with pytest.raises(ApiError, match=r"field label not supported: spec\.foo"):
        parse_field_selector("spec.foo=x")


DOC: dict[str, Any] = {"spec": {"host": "r", "subsets": [{"name": "v1", "labels": {"a": "1"}}]}}


@pytest.mark.parametrize(
    ("ctype", "body", "expected_spec"),
    [
        pytest.param(
            patch.MERGE,
            {"spec": {"host": "x"}},
            {"host": "x", "subsets": DOC["spec"]["subsets"]},
            id="merge-replace-field",
        ),
        pytest.param(patch.MERGE, {"spec": {"subsets": None}}, {"host": "r"}, id="merge-null-deletes"),
        pytest.param(patch.MERGE, {}, DOC["spec"], id="merge-empty-no-change"),
        pytest.param(
            patch.JSON_PATCH,
            [{"op": "add", "path": "/spec/subsets/-", "value": {"name": "v2"}}],
            {"host": "r", "subsets": [*DOC["spec"]["subsets"], {"name": "v2"}]},
            id="json-append",
        ),
        pytest.param(
            patch.JSON_PATCH,
            [{"op": "remove", "path": "/spec/subsets/0"}],
            {"host": "r", "subsets": []},
            id="json-remove",
        ),
        pytest.param(
            patch.JSON_PATCH,
            [{"op": "move", "from": "/spec/host", "path": "/spec/h2"}],
            {"h2": "r", "subsets": DOC["spec"]["subsets"]},
            id="json-move",
        ),
        pytest.param(
            patch.STRATEGIC,
            {"spec": {"subsets": [{"name": "v1", "labels": {"b": "2"}}]}},
            {"host": "r", "subsets": [{"name": "v1", "labels": {"a": "1", "b": "2"}}]},
            id="strategic-merges-named-items",
        ),
    ],
)
def test_apply_patch(ctype: str, body: Any, expected_spec: dict[str, Any]) -> None:
    assert patch.apply_patch(ctype, DOC, body)["spec"] == expected_spec


@pytest.mark.parametrize(
    ("ctype", "body", "code"),
    [
        pytest.param(patch.JSON_PATCH, [{"op": "remove", "path": "/spec/nope"}], 422, id="json-missing-path"),
        pytest.param(
            patch.JSON_PATCH, [{"op": "test", "path": "/spec/host", "value": "z"}], 422, id="json-test-fails"
        ),
        pytest.param(patch.JSON_PATCH, {"op": "add"}, 400, id="json-not-a-list"),
        pytest.param("text/plain", {}, 415, id="unknown-content-type"),
    ],
)
def test_apply_patch_errors(ctype: str, body: Any, code: int) -> None:
    with pytest.raises(ApiError) as exc:
        patch.apply_patch(ctype, DOC, body)
    assert exc.value.code == code


NOW = dt.datetime(2025, 1, 1, 0, 10, tzinfo=dt.UTC)
MTIME = dt.datetime(2025, 1, 1, 0, 9, 30, tzinfo=dt.UTC)
LOG = (
    "[2025-01-01T00:00:00.000Z] old\n"
    "[2025-01-01T00:09:50.000Z] new\n"
    '{"start_time":"2025-01-01T00:09:55.000Z","code":503}\n'
    "no timestamp\n"
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            {},
            [
                "[2025-01-01T00:00:00.000Z] old",
                "[2025-01-01T00:09:50.000Z] new",
                '{"start_time":"2025-01-01T00:09:55.000Z","code":503}',
                "no timestamp",
            ],
            id="all",
        ),
        pytest.param(
            {"sinceSeconds": "60"},
            [
                "[2025-01-01T00:09:50.000Z] new",
                '{"start_time":"2025-01-01T00:09:55.000Z","code":503}',
                "no timestamp",
            ],
            id="since-seconds",
        ),
        pytest.param(
            {"sinceTime": "2025-01-01T00:09:52Z"},
            ['{"start_time":"2025-01-01T00:09:55.000Z","code":503}'],
            id="since-time-mtime-older",
        ),
        pytest.param({"tailLines": "1"}, ["no timestamp"], id="tail"),
        pytest.param({"tailLines": "0"}, [], id="tail-zero"),
        pytest.param(
            {"tailLines": "1", "timestamps": "true"},
            ["2025-01-01T00:09:30.000000000Z no timestamp"],
            id="timestamps-prefix",
        ),
    ],
)
def test_log_selection(query: dict[str, str], expected: list[str]) -> None:
    opts = logs.parse_options("pod", query)
    assert [line.rstrip("\n") for line in logs.select_lines(LOG, opts, MTIME, NOW)] == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(
            {"sinceSeconds": "0"},
            'PodLogOptions "pod" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0',
            id="since-zero",
        ),
        pytest.param(
            {"tailLines": "-1"},
            "tailLines: Invalid value: -1: must be greater than or equal to 0",
            id="tail-negative",
        ),
        pytest.param(
            {"sinceSeconds": "5", "sinceTime": "2025-01-01T00:00:00Z"},
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
            id="both-since",
        ),
        pytest.param({"sinceSeconds": "abc"}, 'sinceSeconds: invalid integer "abc"', id="not-integer"),
    ],
)
def test_log_options_invalid(query: dict[str, str], message: str) -> None:
    with pytest.raises(ApiError) as exc:
        logs.parse_options("pod", query)
    assert message in exc.value.body["message"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, False, id="absent"),
        pytest.param("false", False, id="false"),
        pytest.param("False", False, id="python-False"),
        pytest.param("0", False, id="zero"),
        pytest.param("true", True, id="true"),
        pytest.param("", True, id="empty-is-true"),
    ],
)
def test_qbool(value: str | None, expected: bool) -> None:
    assert logs.qbool({} if value is None else {"stdout": value}, "stdout") is expected


@pytest.mark.parametrize(
    ("rule", "verb", "resource", "group", "ns", "allowed"),
    [
        pytest.param({"verbs": ["*"]}, "create", "pods/exec", "", "a", True, id="wildcard"),
        pytest.param({"verbs": ["get"], "resources": ["pods"]}, "get", "pods/exec", "", "a", False,
                     id="subresource-is-separate"),
        pytest.param({"verbs": ["get"], "resources": ["pods"], "namespaces": ["a"]}, "get", "pods", "", "b", False,
                     id="other-namespace"),
        pytest.param({"verbs": ["list"], "namespaces": ["a"]}, "list", "pods", "", None, False,
                     id="namespaced-rule-not-cluster-scope"),
        pytest.param({"verbs": ["list"], "apiGroups": ["networking.istio.io"]}, "list", "destinationrules",
                     "networking.istio.io", "a", True, id="api-group"),
    ],
)  # fmt: skip
def test_rbac_rule(
    rule: dict[str, Any], verb: str, resource: str, group: str, ns: str | None, allowed: bool
) -> None:
    assert RbacRule.of(rule).allows(verb, resource, group, ns) is allowed


@pytest.mark.parametrize(
    ("header", "user"),
    [
        pytest.param("Bearer T", "u", id="bearer"),
        pytest.param("bearer T", "u", id="lowercase-in-cluster"),
        pytest.param("Bearer X", None, id="unknown-token"),
        pytest.param("Basic T", None, id="basic"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_authenticate(header: str | None, user: str | None) -> None:
    assert Authenticator({"T": "u"}, None).user_for(header) == user


@pytest.mark.parametrize(
    ("plural", "name", "ns", "message"),
    [
        pytest.param(
            "pods",
            "p",
            "ns",
            'pods "p" is forbidden: User "u" cannot get resource "pods/exec" in API '
            'group "" in the namespace "ns"',
            id="named-exec",
        ),
        pytest.param(
            "destinationrules",
            None,
            None,
            'destinationrules.networking.istio.io is forbidden: User "u" '
            'cannot get resource "pods/exec" in API group "networking.istio.io" at the cluster scope',
            id="cluster-scope-crd",
        ),
    ],
)
def test_forbidden_wording(plural: str, name: str | None, ns: str | None, message: str) -> None:
    rt = resolve(plural)
    assert rt is not None
    err = forbidden(rt, name, "u", "get", "pods/exec", ns)
    assert (err.code, err.body["message"]) == (403, message)


@pytest.mark.parametrize(
    ("seconds", "age"),
    [
        pytest.param(5, "5s", id="seconds"),
        pytest.param(90, "1m", id="minute"),
        pytest.param(3 * 3600, "3h", id="hours"),
        pytest.param(3 * 86400, "3d", id="days"),
    ],
)
def test_human_age(seconds: int, age: str) -> None:
    assert human_age((NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"), NOW) == age


def _pod(name: str, app: str, ip: str, ready: bool) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": app}},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


@pytest.mark.parametrize(
    ("pods", "ready", "not_ready"),
    [
        pytest.param([_pod("a", "r", "10.0.0.1", True)], ["10.0.0.1"], [], id="healthy"),
        pytest.param([_pod("a", "r", "10.0.0.1", False)], [], ["10.0.0.1"], id="not-ready"),
        pytest.param([_pod("a", "other", "10.0.0.1", True)], [], [], id="no-match"),
    ],
)
def test_derive_endpoints(pods: list[dict[str, Any]], ready: list[str], not_ready: list[str]) -> None:
    svc = {
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"selector": {"app": "r"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    ep = derive_endpoints(svc, pods)
    assert ep is not None
    subsets = ep["subsets"]
    assert [a["ip"] for s in subsets for a in s.get("addresses", [])] == ready
    assert [a["ip"] for s in subsets for a in s.get("notReadyAddresses", [])] == not_ready
    if subsets:
        assert subsets[0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_derive_endpoints_resolves_named_target_port() -> None:
    pod = _pod("a", "r", "10.0.0.1", True)
    pod["spec"] = {"containers": [{"name": "app", "ports": [{"name": "http-web", "containerPort": 8080}]}]}
    svc = {
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"selector": {"app": "r"}, "ports": [{"name": "http", "port": 80, "targetPort": "http-web"}]},
    }
    ep = derive_endpoints(svc, [pod])
    assert ep is not None and ep["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP", "name": "http"}]


def test_registry_knows_istio_versions() -> None:
    dr, pa = (
        by_plural("networking.istio.io", "destinationrules"),
        by_plural("security.istio.io", "peerauthentications"),
    )
    assert dr is not None and dr.versions == ("v1", "v1beta1", "v1alpha3")
    assert pa is not None and pa.versions == ("v1", "v1beta1")


def _pb_varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _pb(num: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _pb_varint(num << 3 | 2) + _pb_varint(len(data)) + data


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return protobuf.MAGIC + _pb(1, _pb(1, api_version) + _pb(2, kind)) + _pb(2, raw)


_META = _pb(1, "cm1") + _pb(3, "ns1") + _pb(11, _pb(1, "app") + _pb(2, "x"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            _envelope("v1", "ConfigMap", _pb(1, _META) + _pb(2, _pb(1, "k") + _pb(2, "v"))),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "data": {"k": "v"},
                "metadata": {"name": "cm1", "namespace": "ns1", "labels": {"app": "x"}},
            },
            id="configmap",
        ),
        pytest.param(
            _envelope("v1", "Namespace", _pb(1, _pb(1, "n1"))),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n1"}},
            id="namespace",
        ),
        pytest.param(
            _envelope(
                "authorization.k8s.io/v1",
                "SelfSubjectAccessReview",
                _pb(2, _pb(1, _pb(1, "ns") + _pb(2, "create") + _pb(5, "pods") + _pb(6, "exec"))),
            ),
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "metadata": {},
                "spec": {
                    "resourceAttributes": {
                        "namespace": "ns",
                        "verb": "create",
                        "resource": "pods",
                        "subresource": "exec",
                    }
                },
            },
            id="access-review",
        ),
    ],
)
def test_protobuf_decode(body: bytes, expected: dict[str, Any]) -> None:
    assert protobuf.decode(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"\x0a\x01", "missing the k8s", id="no-magic"),
        pytest.param(protobuf.MAGIC + b"\x0a\x05ab", "truncated field", id="truncated"),
        pytest.param(
            _envelope("apps/v1", "Deployment", b""), "kind Deployment are not supported", id="unknown-kind"
        ),
    ],
)
def test_protobuf_decode_errors(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        protobuf.decode(body)
