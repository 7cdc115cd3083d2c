"""Loading and validation: bad input becomes a note naming file and object; nothing crashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import InputError
from agent.istio.engine import PolicyEngine
from agent.istio.load import load_objects_from_dir, load_objects_from_text
from agent.istio.mesh import runs_proxy as has_proxy_container
from agent.istio.topology import expand_host
from tests.support.istio_builders import dr, pa, with_spec


@pytest.mark.parametrize(
    ("obj", "note_has"),
    [
        pytest.param(pa("ns", "bad", "STRICTT"), "spec.mtls.mode 'STRICTT'", id="bad-pa-mode"),
        pytest.param(pa("ns", "p", "STRICT", ports={80: "DISABLE"}), "portLevelMtls requires a selector", id="port-level-without-selector"),
        pytest.param(pa("ns", "p", selector={"a": "b"}, ports={0: "DISABLE"}), "1-65535", id="port-level-port-zero"),
        pytest.param(dr("ns", "d", "h", export_to=["*", "other"]), "'*' cannot be combined", id="exportTo-star-mixed"),
        pytest.param(dr("ns", "d", "h", export_to=["~"]), "exportTo", id="exportTo-tilde"),
        pytest.param(dr("ns", "d", "h", export_to=[".", "ns"]), "duplicate", id="exportTo-duplicate-own-ns"),
        pytest.param(with_spec(dr("ns", "d", "h"), host=""), "spec.host is required", id="dr-without-host"),
        pytest.param(dr("ns", "d", "h", tls="MTLS"), "tls.mode 'MTLS'", id="dr-bad-tls-mode"),
        pytest.param(dr("ns", "d", "h", selector={"a": "b"}, export_to=["*"]), "workloadSelector cannot be exported", id="selector-dr-exported"),
        pytest.param(dr("ns", "d", "h", port_level=[{"tls": {"mode": "DISABLE"}}]), "port.number", id="port-level-without-number"),
        pytest.param({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "unknown kind 'Widget'", id="unknown-kind"),
        pytest.param({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {}}, "metadata.name", id="no-name"),
    ],
)  # fmt: skip
def test_invalid_objects_are_notes(obj: dict[str, Any], note_has: str) -> None:
    obj["__source__"] = "bad.yaml#3"
    engine = PolicyEngine([obj, pa("ns", "good", "STRICT")])
    assert len(engine.notes) == 1
    assert note_has in engine.notes[0] and "bad.yaml#3" in engine.notes[0]
    assert engine.server_mode("ns", {}, 80).mode == "STRICT"  # the rest is still evaluated


def test_valid_objects_have_no_notes() -> None:
    engine = PolicyEngine(
        [pa("ns", "p", "STRICT"), dr("ns", "d", "h", export_to=[".", "other"], tls="ISTIO_MUTUAL")]
    )
    assert engine.notes == []


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: Pod\nmetadata:\n  name: x\n---\nfoo: [unclosed\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.json").write_text(
        '{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "y"}}]}'
    )
    (tmp_path / "ignored.txt").write_text("not yaml: [")
    result = load_objects_from_dir(tmp_path)
    assert [o["metadata"]["name"] for o in result.objects] == ["x", "y"]
    assert (
        len(result.notes) == 1
        and result.notes[0].startswith("a.yaml: line ")
        and "YAML syntax error" in result.notes[0]
    )


def test_load_text_scalar_document() -> None:
    result = load_objects_from_text("just a string\n", "x.yaml")
    assert result.objects == [] and "not an object" in result.notes[0]


@pytest.mark.parametrize(
    ("host", "want"),
    [
        pytest.param("web", "web.cli.svc.cluster.local", id="short-in-client-namespace"),
        pytest.param("web.ns", "web.ns.svc.cluster.local", id="name-dot-namespace"),
        pytest.param("web.ns.svc", "web.ns.svc.cluster.local", id="dot-svc"),
        pytest.param("web.ns.svc.cluster.local", "web.ns.svc.cluster.local", id="fqdn"),
    ],
)
def test_host_forms(host: str, want: str) -> None:
    svcs = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"ports": [{"port": 80}]},
        }
        for ns in ("cli", "ns")
    ]
    assert PolicyEngine(svcs).find_service("cli", host).fqdn == want


@pytest.mark.parametrize(
    ("host", "namespace", "want"),
    [
        pytest.param("web", "cli", "web.cli.svc.cluster.local", id="short-in-client-namespace"),
        pytest.param("web", None, "web", id="short-namespace-unknown"),
        pytest.param("web.ns", None, "web.ns.svc.cluster.local", id="name-dot-namespace"),
        pytest.param("web.ns.svc", "cli", "web.ns.svc.cluster.local", id="dot-svc"),
        pytest.param(
            "Web.NS.svc.cluster.local.", "cli", "web.ns.svc.cluster.local", id="fqdn-case-final-dot"
        ),
        pytest.param("api.example.com", "cli", "api.example.com", id="external-as-written"),
    ],
)
def test_expand_host(host: str, namespace: str | None, want: str) -> None:
    # Shared by the policy engine's find_service and the bundle reader's cluster lookup.
    assert expand_host(host, namespace) == want


def test_bad_questions_raise_input_error() -> None:
    engine = PolicyEngine(
        [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "ns"},
                "spec": {"ports": [{"port": 80}]},
            }
        ]
    )
    with pytest.raises(InputError, match="not a known Service"):
        engine.check("ns", None, "nope", 80)
    with pytest.raises(InputError, match="has no port 81"):
        engine.check("ns", None, "web", 81)
    with pytest.raises(InputError, match="pod ns/ghost not found"):
        engine.check("ns", "ghost", "web", 80)


_KEYS = ["host", "mtls", "mode", "selector", "matchLabels", "app", "ports", "port", "number", "targetPort", "trafficPolicy", "tls",
         "portLevelSettings", "portLevelMtls", "exportTo", "subsets", "name", "labels", "containers", "workloadSelector", "peers",
         "targets", "loadBalancer", "simple", "mesh", "template", "spec", "metadata", "clusterIP"]  # fmt: skip
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.text(max_size=8),
    st.sampled_from(["STRICT", "ISTIO_MUTUAL", "*", "."]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=12,
)
_KINDS = [("networking.istio.io/v1", "DestinationRule"), ("security.istio.io/v1", "PeerAuthentication"), ("v1", "Service"), ("v1", "Pod"),
          ("authentication.istio.io/v1alpha1", "Policy"), ("apps/v1", "Deployment"), ("v1", "ConfigMap")]  # fmt: skip


@st.composite
def _objects(draw: st.DrawFn) -> dict[str, Any]:
    api, kind = draw(st.sampled_from(_KINDS))
    meta = {
        "name": draw(st.sampled_from(["a", "b", "istio"])),
        "namespace": draw(st.sampled_from(["ns", "istio-system"])),
    }
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": draw(_values), "data": draw(_values)}


@settings(max_examples=100, deadline=None)
@given(st.lists(_objects(), max_size=6))
def test_engine_never_crashes(objs: list[dict[str, Any]]) -> None:
    engine = PolicyEngine(objs)
    for _ns, view in engine.audit():
        assert view.status in ("OK", "CONFLICT")


@pytest.mark.parametrize(
    ("objs", "note_has"),
    [
        pytest.param([pa("ns", "b", "STRICT"), pa("ns", "a", "DISABLE")], "namespace ns PeerAuthentication: ns/a (oldest) applies, ns/b ignored", id="two-namespace-pas"),
        pytest.param([pa("istio-system", "x", "STRICT"), pa("istio-system", "y")], "mesh-wide PeerAuthentication: istio-system/x", id="two-mesh-pas"),
        pytest.param([{"apiVersion": "authentication.istio.io/v1alpha1", "kind": "MeshPolicy", "metadata": {"name": "strict"}, "spec": {}}],
                     "MeshPolicy must be named 'default'", id="meshpolicy-name"),
        pytest.param([{"apiVersion": "authentication.istio.io/v1alpha1", "kind": "Policy", "metadata": {"name": "p", "namespace": "ns"}, "spec": {}}],
                     "must be named 'default'", id="legacy-namespace-policy-name"),
    ],
)  # fmt: skip
def test_istiod_warnings(objs: list[dict[str, Any]], note_has: str) -> None:
    notes = PolicyEngine(objs).notes
    assert len(notes) == 1 and note_has in notes[0]


def test_native_sidecar_init_container() -> None:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "labels": {"security.istio.io/tlsMode": "istio"}},
           "spec": {"initContainers": [{"name": "istio-proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}}  # fmt: skip
    assert PolicyEngine([obj]).resources.pods[0].has_sidecar


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"containers": [{"name": "app"}]}, False, id="healthy-no-proxy"),
        pytest.param({"containers": [{"name": "app"}, {"name": "istio-proxy"}]}, True, id="proxy-container"),
        pytest.param(
            {"initContainers": [{"name": "istio-proxy", "restartPolicy": "Always"}], "containers": []},
            True,
            id="native-sidecar",
        ),
        # A plain init container has exited before the app starts: it proxies nothing. kube/ and
        # istio/ once disagreed here; agent.istio.mesh is now the one definition.
        pytest.param(
            {"initContainers": [{"name": "istio-proxy"}], "containers": []}, False, id="plain-init-container"
        ),
        pytest.param({"containers": "istio-proxy"}, False, id="containers-not-a-list"),
        pytest.param({"containers": 7}, False, id="containers-a-number"),
        pytest.param(["istio-proxy"], False, id="spec-not-a-mapping"),
        pytest.param(None, False, id="no-spec"),
    ],
)
def test_has_proxy_container(spec: Any, expected: bool) -> None:
    # Shared by parse_pod, kube's pod objects and the bundle reader, which must tolerate malformed pods.
    assert has_proxy_container(spec) is expected
