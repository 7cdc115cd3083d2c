"""Cluster TLS read from the shapes istiod renders with HBONE sending on (ambient-enabled control plane).

Shapes: tests/istio_shapes.py, built from the real Istio 1.22.3 sidecar dump's own sockets as
istio/istio 86c9f01f pilot/pkg/networking/core/cluster_tls.go `applyHBONETransportSocketMatches`
arranges them (its test: cluster_tls_test.go `TestApplyUpstreamTLSSettingsHBONE`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from agent.envoy.config_dump import find_cluster, parse_clusters
from agent.evidence import TlsOrigination
from tests.support import istio_shapes as shapes

SNI = "outbound_.3333_._.app1.default.svc.cluster.local"
SAN = ("spiffe://cluster.local/ns/default/sa/default",)


@pytest.mark.parametrize(
    ("build", "mode", "hbone", "sni"),
    [
        # Healthy baseline: the real cluster as dumped (auto mTLS, no HBONE).
        pytest.param(shapes.real_cluster, TlsOrigination.AUTO, False, SNI, id="real-auto-no-hbone"),
        pytest.param(shapes.hbone_auto, TlsOrigination.AUTO, True, SNI, id="hbone-auto"),
        # The bug this guards: tlsMode-istio without a match is the catch-all of explicit ISTIO_MUTUAL.
        pytest.param(
            shapes.hbone_istio_mutual,
            TlsOrigination.ISTIO_MUTUAL,
            True,
            SNI,
            id="hbone-explicit-istio-mutual",
        ),
        pytest.param(shapes.hbone_simple, TlsOrigination.SIMPLE, True, "custom.foo.com", id="hbone-simple"),
        # The other bug: [hbone, tlsMode-disabled] read as UNKNOWN.
        pytest.param(shapes.hbone_disable, TlsOrigination.PLAINTEXT, True, None, id="hbone-disable"),
        pytest.param(
            shapes.plain_istio_mutual, TlsOrigination.ISTIO_MUTUAL, False, SNI, id="explicit-istio-mutual"
        ),
        pytest.param(shapes.plain_disable, TlsOrigination.PLAINTEXT, False, None, id="disable"),
    ],
)
def test_hbone_shapes(
    build: Callable[[], dict[str, Any]], mode: TlsOrigination, hbone: bool, sni: str | None
) -> None:
    [info] = parse_clusters(shapes.dump_of(build()))
    assert (info.tls, info.hbone, info.sni) == (mode, hbone, sni)
    assert info.destination_rule == "default/app1-destination"
    if mode in (TlsOrigination.AUTO, TlsOrigination.ISTIO_MUTUAL):
        assert info.expected_sans == SAN


def test_hbone_subset_cluster_keeps_subset() -> None:
    """Subset clusters `outbound|PORT|SUBSET|HOST` get the same HBONE treatment."""
    clusters = parse_clusters(shapes.dump_of(shapes.hbone_istio_mutual(shapes.APP1_SUBSET)))
    info = find_cluster(clusters, "app1.default.svc.cluster.local", 3333, "app1-0")
    assert info is not None and (info.subset, info.tls, info.hbone) == (
        "app1-0",
        TlsOrigination.ISTIO_MUTUAL,
        True,
    )
    assert find_cluster(clusters, "app1.default.svc.cluster.local", 3333) is None


def test_camelcase_hbone_shape() -> None:
    """istioctl `pc cluster -o json` (protojson camelCase) of the same explicit-ISTIO_MUTUAL cluster."""

    def camel(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                head, *rest = k.split("_")
                key = k if k.startswith("@") or "." in k else head + "".join(p.title() for p in rest)
                out[key] = camel(v)
            return out
        return [camel(v) for v in value] if isinstance(value, list) else value

    [info] = parse_clusters(json.dumps([camel(shapes.hbone_istio_mutual())]))
    assert (info.tls, info.hbone) == (TlsOrigination.ISTIO_MUTUAL, True)


def test_hbone_endpoints_from_include_eds() -> None:
    """EDS under HBONE: the ambient endpoint is keyed by its endpoint_id and marked hbone."""
    doc = json.loads(shapes.dump_of(shapes.hbone_auto()))
    doc["configs"].append(shapes.hbone_eds(shapes.APP1, "10.0.0.5", "10.0.0.9", 3333))
    [info] = parse_clusters(json.dumps(doc))
    assert dict(info.endpoint_tls_modes) == {"10.0.0.5:3333": "istio", "10.0.0.9:3333": "hbone"}


def test_endpoint_modes_from_real_include_eds_dump() -> None:
    """Real istioctl testdata include_eds dump: injected endpoints carry tlsMode istio, others none."""
    from agent.check.mesh_facts import with_endpoint_modes
    from agent.envoy.config_dump import parse_endpoint_modes
    from tests.support.shared_data import REAL

    eds = parse_endpoint_modes((REAL / "config_dumps" / "eds_config_dump_include_eds.json").read_bytes())
    modes = {m for per in eds.values() for m in per.values()}
    assert {"istio", "disabled"} <= modes
    name, per = next((n, p) for n, p in eds.items() if "istio" in p.values())
    [info] = with_endpoint_modes(parse_clusters(shapes.dump_of({**shapes.real_cluster(), "name": name})), eds)
    assert dict(info.endpoint_tls_modes) == per


def test_filtered_eds_answer_shape() -> None:
    """`config_dump?resource=dynamic_endpoint_configs&include_eds&name_regex=` lists endpoint_config items
    directly under configs (checked on Envoy 1.40 for static_endpoint_configs)."""
    from agent.envoy.config_dump import parse_endpoint_modes

    doc = shapes.hbone_eds(shapes.APP1, "10.0.0.5", "10.0.0.9", 3333)
    filtered = {
        "configs": [
            dict(
                doc["dynamic_endpoint_configs"][0], **{"@type": "x.EndpointsConfigDump.DynamicEndpointConfig"}
            )
        ]
    }
    assert parse_endpoint_modes(json.dumps(filtered)) == {
        shapes.APP1: {"10.0.0.5:3333": "istio", "10.0.0.9:3333": "hbone"}
    }
