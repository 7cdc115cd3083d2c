"""ParseMemo gives what parse_objects gives, re-parsing only changed objects (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from agent.istio import parse_memo
from agent.istio.parse import parse_objects
from agent.istio.parse_memo import ParseMemo
from tests.support.istio_builders import dr, mesh, pa, pod, svc


def versioned(obj: dict[str, Any], uid: str, rv: str) -> dict[str, Any]:
    obj = dict(obj)
    obj["metadata"] = {**obj["metadata"], "uid": uid, "resourceVersion": rv}
    return obj


BASE = [
    versioned(pod("bookinfo", "reviews-1", {"app": "reviews"}), "u1", "1"),
    versioned(svc("bookinfo", "reviews", 9080), "u2", "2"),
    versioned(dr("bookinfo", "reviews", "reviews", tls="DISABLE"), "u3", "3"),
    versioned(pa("istio-system", "default", "STRICT"), "u4", "4"),
    mesh(enableAutoMtls=True),
]
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "ratings", "namespace": "bookinfo"},
    "spec": {
        "template": {"metadata": {"labels": {"app": "ratings"}}, "spec": {"containers": [{"name": "r"}]}}
    },
}


@pytest.mark.parametrize(
    "objects",
    [
        pytest.param(BASE, id="healthy-versioned-objects"),
        pytest.param(
            [{k: v for k, v in o.items()} for o in BASE[:1]] + [svc("bookinfo", "x", 80)],
            id="unversioned-mixed",
        ),
        pytest.param([*BASE, DEPLOYMENT], id="deployment-template-falls-back"),
        pytest.param(
            [
                *BASE,
                versioned(
                    {
                        "kind": "DestinationRule",
                        "apiVersion": "networking.istio.io/v1",
                        "metadata": {"name": "bad", "namespace": "x"},
                        "spec": {"host": 3},
                    },
                    "u9",
                    "9",
                ),
            ],
            id="invalid-object-note",
        ),
    ],
)
def test_same_as_parse_objects(objects: list[dict[str, Any]]) -> None:
    want = parse_objects([dict(o) for o in objects])
    got = ParseMemo().parse(objects)
    assert (sorted(map(repr, got.pods)), sorted(map(repr, got.services))) == (
        sorted(map(repr, want.pods)),
        sorted(map(repr, want.services)),
    )
    assert got.destination_rules == want.destination_rules
    assert got.peer_authentications == want.peer_authentications
    assert got.mesh == want.mesh and sorted(got.notes) == sorted(want.notes)


def test_only_changed_objects_are_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = ParseMemo()
    memo.parse(BASE)
    calls: list[int] = []
    real = parse_memo.parse_objects

    def counting(objs: list[Any]) -> Any:
        calls.append(len(objs))
        return real(objs)

    monkeypatch.setattr(parse_memo, "parse_objects", counting)
    changed = [versioned(BASE[0], "u1", "10"), *BASE[1:]]
    res = memo.parse(changed)
    assert calls == [1, 1]  # the changed pod, then the unversioned rest (the mesh ConfigMap)
    assert len(res.pods) == 1 and len(memo._memo) == 4  # the old version was dropped
