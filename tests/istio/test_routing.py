"""Which subset cluster a request used, from VirtualServices (when no access-log line names it).

VirtualServices are Istio's Bookinfo samples, istio/istio 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c
samples/bookinfo/networking/virtual-service-reviews-v3.yaml, -reviews-50-v3.yaml,
-reviews-test-v2.yaml (header match `end-user: jason`), applied in namespace bookinfo; selection
order from pilot/pkg/model/virtualservice.go `SelectVirtualServices`.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.istio.routing import route

REVIEWS = "reviews.bookinfo.svc.cluster.local"


def vs(
    name: str,
    http: list[dict[str, Any]],
    ns: str = "bookinfo",
    created: str = "2026-01-01T00:00:00Z",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"namespace": ns, "name": name, "creationTimestamp": created},
        "spec": {"hosts": ["reviews"], "http": http} | spec,
    }


def dest(subset: str | None, weight: int | None = None, host: str = "reviews") -> dict[str, Any]:
    d: dict[str, Any] = {"destination": {"host": host, **({"subset": subset} if subset else {})}}
    if weight is not None:
        d["weight"] = weight
    return d


V3 = vs("reviews", [{"route": [dest("v3")]}])
FIFTY = vs("reviews", [{"route": [dest("v1", 50), dest("v3", 50)]}])
JASON = vs(
    "reviews",
    [
        {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [dest("v2")]},
        {"route": [dest("v1")]},
    ],
)


@pytest.mark.parametrize(
    ("objects", "subset", "split", "by"),
    [
        pytest.param([], None, False, None, id="healthy-no-virtualservice-default-cluster"),
        pytest.param([V3], "v3", False, "bookinfo/reviews", id="reviews-v3"),
        pytest.param([FIFTY], None, True, "bookinfo/reviews", id="reviews-50-v3-split"),
        pytest.param([JASON], "v1", False, "bookinfo/reviews", id="header-match-not-for-probe"),
        pytest.param(
            [
                vs(
                    "r",
                    [
                        {"match": [{"uri": {"prefix": "/api"}}], "route": [dest("v2")]},
                        {"route": [dest("v1")]},
                    ],
                )
            ],
            "v2",
            False,
            "bookinfo/r",
            id="uri-prefix-match",
        ),
        pytest.param(
            [
                vs(
                    "r",
                    [
                        {"match": [{"sourceLabels": {"app": "other"}}], "route": [dest("v2")]},
                        {"route": [dest(None)]},
                    ],
                )
            ],
            None,
            False,
            "bookinfo/r",
            id="source-labels-miss-default-subset",
        ),
        pytest.param(
            [vs("gw-only", [{"route": [dest("v2")]}], gateways=["bookinfo-gateway"])],
            None,
            False,
            None,
            id="gateway-only-vs-ignored",
        ),
        pytest.param(
            [vs("hidden", [{"route": [dest("v2")]}], ns="other", exportTo=["."])],
            None,
            False,
            None,
            id="not-exported-to-client",
        ),
        pytest.param(
            [
                vs("public", [{"route": [dest("v2")]}], ns="other", created="2025-01-01T00:00:00Z"),
                vs(
                    "private",
                    [{"route": [dest("v3", host=REVIEWS)]}],
                    ns="load-test",
                    exportTo=["."],
                    created="2026-06-01T00:00:00Z",
                    hosts=[REVIEWS],  # a short name would mean reviews.load-test (its own namespace)
                ),
            ],
            "v3",
            False,
            "load-test/private",
            id="private-to-client-namespace-first",
        ),
        pytest.param(
            [
                vs("newer", [{"route": [dest("v2")]}], created="2026-02-01T00:00:00Z"),
                vs("older", [{"route": [dest("v1")]}], created="2026-01-01T00:00:00Z"),
            ],
            "v1",
            False,
            "bookinfo/older",
            id="oldest-public-first",
        ),
        pytest.param(
            [vs("elsewhere", [{"route": [dest("v1", host="ratings")]}])],
            None,
            False,
            None,
            id="routes-to-another-host",
        ),
    ],
)
def test_route(objects: list[dict[str, Any]], subset: str | None, split: bool, by: str | None) -> None:
    r = route(objects, "load-test", {"app": "traffic-generator"}, REVIEWS, 9080, "/api/v1/products")
    if by is None:
        assert r is None
        return
    assert r is not None and r.virtual_service == by
    assert (r.subset, r.split) == (subset, split)
