"""Config-dump goldens (every real fixture, Envoy 1.40), errors, lookup helpers, fuzz."""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.envoy.config_dump import (
    cluster_name_regex,
    destination_rule_from_path,
    find_cluster,
    parse_clusters,
)
from agent.errors import InputError
from agent.evidence import ClusterInfo, TlsOrigination
from tests.support.shared_data import REAL

DUMPS = REAL / "config_dumps"
V11 = DUMPS / "sidecar_istio1.1_productpage_meshwide-dr-istio-mutual_v2api.json"
V19 = DUMPS / "sidecar_istio1.9_bookinfo-productpage_dr-subsets.json"
V118 = DUMPS / "sidecar_istio1.18_hotelres-geo_automtls_full.json"
DESCRIBE = DUMPS / "describe_http_config_v3_subset-cluster.json"
EDS = DUMPS / "eds_config_dump_include_eds.json"
CAMEL = REAL / "istioctl_golden" / "pc_cluster_-o_json_2020_camelCase.json"
ENVOY140 = Path(__file__).parent / "testdata" / "envoy-1.40" / "config_dump.json"


def _clusters(path: Path) -> list[ClusterInfo]:
    return parse_clusters(path.read_bytes())


@pytest.mark.parametrize(
    ("path", "count", "modes"),
    [
        pytest.param(V11, 58, {"ISTIO_MUTUAL": 46, "DISABLE": 12}, id="istio-1.1-v2"),
        pytest.param(V19, 37, {"AUTO": 28, "DISABLE": 9}, id="istio-1.9"),
        pytest.param(V118, 143, {"AUTO": 122, "DISABLE": 21}, id="istio-1.18-full"),
        pytest.param(DESCRIBE, 1, {"AUTO": 1}, id="describe-v3-subset"),
        pytest.param(EDS, 37, {"UNKNOWN": 37}, id="eds-only"),
        pytest.param(CAMEL, 2, {"DISABLE": 2}, id="istioctl-camelcase"),
        pytest.param(ENVOY140, 3, {"DISABLE": 2, "SIMPLE": 1}, id="envoy-1.40-static"),
    ],
)
def test_every_golden_file(path: Path, count: int, modes: dict[str, int]) -> None:
    clusters = _clusters(path)
    assert len(clusters) == count
    assert Counter(c.tls.value for c in clusters) == modes


@pytest.mark.parametrize(
    ("path", "fqdn", "port", "subset", "expect"),
    [
        pytest.param(
            V11,
            "reviews.default.svc.cluster.local",
            9080,
            None,
            {
                "tls": TlsOrigination.ISTIO_MUTUAL,
                "destination_rule": "istio-system/default",
                "sni": "outbound_.9080_._.reviews.default.svc.cluster.local",
                "expected_sans": ("spiffe://cluster.local/ns/default/sa/default",),
                "alpn": ("istio",),
            },
            id="1.1-reviews-istio-mutual-mesh-dr",
        ),
        pytest.param(
            V11,
            "kubernetes.default.svc.cluster.local",
            443,
            None,
            {"tls": TlsOrigination.PLAINTEXT, "destination_rule": "istio-system/api-server"},
            id="1.1-api-server-dr-disable",
        ),
        pytest.param(
            V19,
            "details.default.svc.cluster.local",
            9080,
            "v1",
            {
                "tls": TlsOrigination.AUTO,
                "destination_rule": "default/details",
                "subset": "v1",
                "sni": "outbound_.9080_.v1_.details.default.svc.cluster.local",
                "alpn": ("istio-peer-exchange", "istio"),
            },
            id="1.9-details-v1-auto-with-dr",
        ),
        pytest.param(
            V118,
            "frontend.hr2.svc.cluster.local",
            5000,
            None,
            {
                "tls": TlsOrigination.AUTO,
                "destination_rule": None,
                "expected_sans": ("spiffe://cluster.local/ns/hr2/sa/default",),
                "endpoint_tls_modes": {"172.16.188.33:5000": "istio"},
            },
            id="1.18-frontend-auto-eds-istio",
        ),
        pytest.param(
            DESCRIBE,
            "productpage.default.svc.cluster.local",
            9080,
            "v1",
            {"tls": TlsOrigination.AUTO, "destination_rule": "default/productpage"},
            id="describe-productpage-v1",
        ),
        pytest.param(
            EDS,
            "reviews.default.svc.cluster.local",
            9080,
            None,
            {
                "endpoint_tls_modes": {
                    "10.244.0.192:9080": "istio",
                    "10.244.0.193:9080": "istio",
                    "10.244.0.195:9080": "istio",
                }
            },
            id="eds-reviews-endpoints",
        ),
        pytest.param(
            ENVOY140,
            "plain.lab.svc.cluster.local",
            9080,
            None,
            {"tls": TlsOrigination.SIMPLE, "sni": "outbound_.9080_._.plain.lab.svc.cluster.local"},
            id="envoy-1.40-tls-without-client-cert",
        ),
    ],
)
def test_cluster_facts(
    path: Path, fqdn: str, port: int, subset: str | None, expect: dict[str, object]
) -> None:
    cluster = find_cluster(_clusters(path), fqdn, port, subset)
    assert cluster is not None
    for key, value in expect.items():
        assert getattr(cluster, key) == value, key


def _tls_cluster(
    name: str, sds: list[str], files: list[str], alpn: list[str], camel: bool = False
) -> dict[str, object]:
    common: dict[str, object] = {"alpn_protocols": alpn}
    if sds:
        common["tls_certificate_sds_secret_configs"] = [{"name": n} for n in sds]
    if files:
        common["tls_certificates"] = [{"certificate_chain": {"filename": f}} for f in files]
    ctx = {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "common_tls_context": common,
    }
    socket = {"name": "envoy.transport_sockets.tls", "typed_config": ctx}
    cluster: dict[str, object] = {"name": name, "transport_socket": socket}
    text = json.dumps(cluster)
    if camel:
        text = text.replace("transport_socket", "transportSocket").replace("typed_config", "typedConfig")
        text = text.replace("common_tls_context", "commonTlsContext").replace(
            "alpn_protocols", "alpnProtocols"
        )
        text = text.replace("tls_certificate_sds_secret_configs", "tlsCertificateSdsSecretConfigs")
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("cluster", "mode"),
    [
        pytest.param(
            _tls_cluster("a", ["default"], [], ["istio"]),
            TlsOrigination.ISTIO_MUTUAL,
            id="explicit-istio-sds",
        ),
        pytest.param(
            _tls_cluster("a", ["default"], [], ["istio"], camel=True), TlsOrigination.ISTIO_MUTUAL, id="camel"
        ),
        pytest.param(
            _tls_cluster("a", ["file-cert:/c.pem~/k.pem"], [], []), TlsOrigination.MUTUAL, id="mutual"
        ),
        pytest.param(
            _tls_cluster("a", [], ["/etc/certs/cert-chain.pem"], []),
            TlsOrigination.ISTIO_MUTUAL,
            id="v2-files",
        ),
        pytest.param(_tls_cluster("a", [], [], ["h2"]), TlsOrigination.SIMPLE, id="simple"),
        pytest.param({"name": "a"}, TlsOrigination.PLAINTEXT, id="healthy-plaintext-no-socket"),
        pytest.param(
            {"name": "a", "transport_socket": {"name": "envoy.transport_sockets.raw_buffer"}},
            TlsOrigination.PLAINTEXT,
            id="raw-buffer",
        ),
    ],
)
def test_tls_origination_rules(cluster: dict[str, object], mode: TlsOrigination) -> None:
    dump = {
        "configs": [
            {
                "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster",
                "cluster": cluster,
            }
        ]
    }
    assert [c.tls for c in parse_clusters(json.dumps(dump))] == [mode]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            '{"configs": [{"@type": "x", "dynamic_active_clusters": [',
            "truncated JSON at byte",
            id="truncated",
        ),
        pytest.param(b"", "empty input", id="empty"),
        pytest.param("   \n", "empty input", id="blank"),
        pytest.param("not json", "invalid JSON at byte 0", id="garbage"),
        pytest.param("42", "expected a JSON object or list", id="number"),
        pytest.param('{"listeners": []}', "no 'configs' key", id="wrong-document"),
        pytest.param("[" * 100000, "JSON", id="deep-nesting"),
    ],
)
def test_bad_dumps_raise_input_error(data: str | bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_clusters(data)


def test_filter_miss_is_empty() -> None:
    assert parse_clusters("{}") == []
    assert parse_clusters('{"configs": []}') == []


@pytest.mark.parametrize(
    ("args", "regex"),
    [
        pytest.param(
            ("details.default.svc.cluster.local", 9080, "v1"),
            r"^outbound\|9080\|v1\|details\.default\.svc\.cluster\.local$",
            id="subset",
        ),
        pytest.param(("a.b", 80, None), r"^outbound\|80\|\|a\.b$", id="no-subset"),
    ],
)
def test_cluster_name_regex(args: tuple[str, int, str | None], regex: str) -> None:
    assert cluster_name_regex(*args) == regex


REVIEWS = "reviews.bookinfo.svc.cluster.local"


@pytest.mark.parametrize(
    ("args", "name", "matches"),
    [
        pytest.param((REVIEWS, 9080, None), f"outbound|9080||{REVIEWS}", True, id="exact"),
        pytest.param((REVIEWS, 9080, "v1"), f"outbound|9080|v1|{REVIEWS}", True, id="subset"),
        pytest.param((REVIEWS, 9080, None), f"outbound|9080|v1|{REVIEWS}", False, id="other-subset"),
        pytest.param((REVIEWS, 9080, None), f"outbound|90800||{REVIEWS}", False, id="port-prefix"),
        pytest.param((REVIEWS, 9080, None), "outbound|9080||reviewsXbookinfo.svc.cluster.local", False, id="dot-escaped"),
        pytest.param((REVIEWS, 9080, None), f"outbound|9080||{REVIEWS}.evil", False, id="whole-name"),
    ],
)  # fmt: skip
def test_cluster_name_regex_matches(args: tuple[str, int, str | None], name: str, matches: bool) -> None:
    regex = cluster_name_regex(*args)
    assert "\\|" in regex
    assert bool(re.search(regex, name)) is matches


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("a b", 80, None), id="space-in-host"),
        pytest.param(("a.b", 0, None), id="port-zero"),
        pytest.param(("a.b", 80, "v1|x"), id="pipe-in-subset"),
        pytest.param(("reviews/../x", 80, None), id="bad-host"),
        pytest.param(("reviews", 0, None), id="bad-port"),
        pytest.param(("reviews", 80, "v1|x"), id="bad-subset"),
    ],
)
def test_cluster_name_regex_rejects(args: tuple[str, int, str | None]) -> None:
    with pytest.raises(InputError):
        cluster_name_regex(*args)


def test_find_cluster_short_name_and_miss() -> None:
    clusters = _clusters(V19)
    found = find_cluster(clusters, "details", 9080)
    assert found is not None and found.fqdn == "details.default.svc.cluster.local" and found.subset is None
    assert find_cluster(clusters, "nosuch.default.svc.cluster.local", 9080) is None


@pytest.mark.parametrize(
    ("path", "dr"),
    [
        pytest.param(
            "/apis/networking/v1alpha3/namespaces/istio-system/destination-rule/default",
            "istio-system/default",
            id="<=1.4",
        ),
        pytest.param(
            "/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/details",
            "default/details",
            id="1.5-1.23",
        ),
        pytest.param("/apis/networking.istio.io/v1/namespaces/ns/destination-rule/dr", "ns/dr", id=">=1.24"),
        pytest.param("/apis/networking.istio.io/v1/namespaces/ns/virtual-service/vs", None, id="not-a-dr"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_destination_rule_paths(path: str | None, dr: str | None) -> None:
    assert destination_rule_from_path(path) == dr


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "configs",
                    "cluster",
                    "name",
                    "transport_socket",
                    "transport_socket_matches",
                    "metadata",
                    "filter_metadata",
                    "istio",
                    "config",
                    "match",
                    "tlsMode",
                    "dynamic_active_clusters",
                    "endpoint_config",
                    "lb_endpoints",
                    "endpoints",
                    "cluster_name",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_fuzz_structured_only_input_error(doc: object) -> None:
    with contextlib.suppress(InputError):
        parse_clusters(json.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_fuzz_bytes_only_input_error(data: str | bytes) -> None:
    with contextlib.suppress(InputError):
        parse_clusters(data)
