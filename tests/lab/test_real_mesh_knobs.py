"""The lab's real-mesh knobs, rendered (pure): control plane objects, native pods, cluster domain,
HBONE cluster shapes, access-logging decisions, kubelet status and the pod table. Sources of each
behaviour are in meshlab/scenarios/README.md and in the modules' docstrings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.errors import InputError
from meshlab import access_logging, pod_status
from meshlab.apiserver.store import Store
from meshlab.apiserver.tables import pod_row
from meshlab.domain import canonical_host
from meshlab.kubelet import SidecarKubelet
from meshlab.mesh import MeshModel, lab_mesh_config
from meshlab.pod_processes import envoy_name
from meshlab.processes import Child, Supervisor
from meshlab.scenario import Scenario, load_scenario, with_knobs
from meshlab.sidecar import OutboundService, render_sidecar
from meshlab.sidecar.clusters import outbound_cluster
from meshlab.sidecar.istio_defaults import ISTIO_JSON_LOG_FORMAT
from meshlab.topology import plan_pods, scenario_objects

SUBNET = "127.42.8"


def _world(scenario: Scenario) -> tuple[list[dict[str, Any]], MeshModel]:
    pods = plan_pods(scenario, SUBNET)
    objs = scenario_objects(scenario, pods, SUBNET)
    return objs, MeshModel(objs, pods, scenario)


def _one(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, [o["metadata"]["name"] for o in objs if o["kind"] == kind]
    return found[0]


def _seed(**cp: Any) -> Scenario:
    """The seed scenario with control-plane knobs (field names, not YAML aliases)."""
    seed = load_scenario("seed")
    assert set(cp) <= set(type(seed.control_plane).model_fields), cp
    return seed.model_copy(update={"control_plane": seed.control_plane.model_copy(update=cp)})


# -- control plane -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("control_plane", "configmap", "istiod", "webhook", "rev"),
    [
        pytest.param({}, "istio", "istiod", "istio-sidecar-injector", "default", id="default-install"),
        pytest.param(
            {"revision": "1-30"},
            "istio-1-30",
            "istiod-1-30",
            "istio-sidecar-injector-1-30",
            "1-30",
            id="revision",
        ),
        pytest.param(
            {"namespace": "aks-istio-system", "revision": "asm-1-30"},
            "istio-asm-1-30",
            "istiod-asm-1-30",
            "istio-sidecar-injector-asm-1-30-aks-istio-system",
            "asm-1-30",
            id="managed-namespace-and-revision",
        ),
    ],
)
def test_control_plane_objects_are_named_as_istio_names_them(
    control_plane: dict[str, Any], configmap: str, istiod: str, webhook: str, rev: str
) -> None:
    scenario = _seed(**control_plane)
    ns = scenario.control_plane.namespace
    objs, _ = _world(scenario)
    cm = _one(objs, "ConfigMap")
    assert (cm["metadata"]["name"], cm["metadata"]["namespace"]) == (configmap, ns)
    assert cm["metadata"]["labels"]["istio.io/rev"] == rev
    assert yaml.safe_load(cm["data"]["mesh"])["rootNamespace"] == ns  # the chart's default
    deploy = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["namespace"] == ns)
    assert deploy["metadata"]["name"] == istiod and deploy["metadata"]["labels"]["istio.io/rev"] == rev
    pod = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["namespace"] == ns)
    assert pod["metadata"]["labels"]["app"] == "istiod" and pod["metadata"]["labels"]["istio.io/rev"] == rev
    hook = _one(objs, "MutatingWebhookConfiguration")
    assert hook["metadata"]["name"] == webhook
    assert {h["clientConfig"]["service"]["name"] for h in hook["webhooks"]} == {istiod}
    app = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["namespace"] == "load-test")
    assert app["metadata"]["annotations"]["istio.io/rev"] == rev
    assert json.loads(app["metadata"]["annotations"]["sidecar.istio.io/status"])["revision"] == rev
    ns_labels = next(o for o in objs if o["kind"] == "Namespace" and o["metadata"]["name"] == "load-test")
    if control_plane.get("revision"):
        assert app["metadata"]["labels"]["istio.io/rev"] == rev
        assert ns_labels["metadata"]["labels"] == {"istio.io/rev": rev}
    else:
        assert "istio.io/rev" not in app["metadata"]["labels"]
        assert ns_labels["metadata"]["labels"] == {"istio-injection": "enabled"}


def test_ambient_control_plane_sets_the_ambient_profile_env_and_proxy_metadata() -> None:
    objs, model = _world(_seed(ambient_enabled=True))
    istiod = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["labels"].get("app") == "istiod")
    env = {e["name"]: e["value"] for e in istiod["spec"]["containers"][0]["env"]}
    assert env["PILOT_ENABLE_AMBIENT"] == "true"
    assert model.mesh["defaultConfig"]["proxyMetadata"] == {"ISTIO_META_ENABLE_HBONE": "true"}


def test_mesh_config_merges_over_the_lab_defaults_and_is_read_back_from_the_configmap() -> None:
    scenario = _seed(
        revision="1-30", mesh_config={"accessLogFile": "", "defaultProviders": {"accessLogging": ["envoy"]}}
    )
    objs, _ = _world(scenario)
    mesh = lab_mesh_config(objs, scenario)
    assert mesh["accessLogFile"] == ""
    assert mesh["defaultProviders"] == {"metrics": ["prometheus"], "accessLogging": ["envoy"]}
    assert mesh["trustDomain"] == "cluster.local" and mesh["enableAutoMtls"] is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("controlPlane: {revision: 1.30}", "controlPlane.revision"),
        ("controlPlane: {namespace: Mesh}", "controlPlane.namespace"),
        ("controlPlane: {meshConfig: {accessLogFile: 3}}", "accessLogFile must be a string"),
        ("controlPlane: {ambient: true}", "controlPlane.ambient"),
        ("clusterDomain: corp_internal", "clusterDomain"),
        ("workloads: [{name: a, namespace: b, sidecarMode: sidecar}]", "workloads.0.sidecarMode"),
    ],
    ids=[
        "revision-not-a-label",
        "namespace-uppercase",
        "log-file-not-string",
        "unknown-field",
        "bad-domain",
        "bad-mode",
    ],
)
def test_bad_knobs_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    body = yaml.safe_load(text)
    doc = {"name": "x", "workloads": [], **body}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        load_scenario(path)


# -- native sidecars -----------------------------------------------------------------------------
def test_native_sidecar_pod_as_the_injector_writes_it() -> None:
    objs, _ = _world(with_knobs(load_scenario("seed"), sidecar_mode="native"))
    pod = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["namespace"] == "load-test")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["traffic-generator"]
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    assert pod["spec"]["initContainers"][1]["restartPolicy"] == "Always"
    assert "restartPolicy" not in pod["spec"]["initContainers"][0]
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert (status["initContainers"], status["containers"]) == (["istio-init", "istio-proxy"], None)
    proxy = pod["status"]["initContainerStatuses"][1]
    assert (proxy["name"], proxy["ready"], proxy["started"]) == ("istio-proxy", True, True)
    assert [c["name"] for c in pod["status"]["containerStatuses"]] == ["traffic-generator"]
    assert pod_row(pod, dt.datetime.now(dt.UTC)) == ("2/2", "Running", "0")


def test_container_sidecar_pod_keeps_istio_proxy_in_containers() -> None:
    objs, _ = _world(load_scenario("seed"))
    pod = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["namespace"] == "load-test")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["traffic-generator", "istio-proxy"]
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init"]
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert (status["initContainers"], status["containers"]) == (["istio-init"], ["istio-proxy"])
    assert pod_row(pod, dt.datetime.now(dt.UTC)) == ("2/2", "Running", "0")


# -- cluster domain ------------------------------------------------------------------------------
def test_cluster_domain_runs_through_names_sni_dns_and_node_id() -> None:
    scenario = load_scenario("seed").model_copy(update={"cluster_domain": "corp.internal"})
    _, model = _world(scenario)
    client = next(p for p in model.pods if p.namespace == "load-test")
    pp = next(s for s in model.outbound(client) if s.name == "productpage")
    assert pp.cluster_name == "outbound|9080||productpage.bookinfo.svc.corp.internal"
    # The bookinfo DR (short host `productpage`) still applies: expanded with the cluster's domain.
    assert (pp.destination_rule, pp.tls_mode) == ("bookinfo/destrule-productpage", "DISABLE")
    tg = next(p for p in model.pods if p.namespace == "traffic-generator")
    pp_tg = next(s for s in model.outbound(tg) if s.name == "productpage")
    # traffic-generator's DR names productpage.bookinfo.svc.cluster.local: another domain, so it
    # selects nothing here and the bookinfo rule (exported to all) applies, as in a real mesh.
    assert pp_tg.destination_rule == "bookinfo/destrule-productpage"
    files = render_sidecar(model.sidecar_spec(tg, Path("/lab/pod")))
    assert files["bootstrap.json"]["node"]["id"].endswith("~traffic-generator.svc.corp.internal")
    routes = model.curl_routes(client)
    assert any("productpage.bookinfo.svc.corp.internal" in r.hosts for r in routes)


@pytest.mark.parametrize(
    ("host", "domain", "want"),
    [
        ("productpage", "corp.internal", "productpage"),
        ("productpage.bookinfo", "corp.internal", "productpage.bookinfo"),
        ("productpage.bookinfo.svc", "corp.internal", "productpage.bookinfo.svc"),
        ("productpage.bookinfo.svc.corp.internal", "corp.internal", "productpage.bookinfo.svc.cluster.local"),
        ("*.bookinfo.svc.corp.internal", "corp.internal", "*.bookinfo.svc.cluster.local"),
        ("*.corp.internal", "corp.internal", "*.cluster.local"),
        ("*.internal", "corp.internal", "*.cluster.local"),
        ("*", "corp.internal", "*"),
        (
            "productpage.bookinfo.svc.cluster.local",
            "corp.internal",
            "productpage.bookinfo.svc.cluster.local.not-in-this-cluster.invalid",
        ),
        ("*.local", "corp.internal", "*.local.not-in-this-cluster.invalid"),
        ("productpage.bookinfo.svc.cluster.local", "cluster.local", "productpage.bookinfo.svc.cluster.local"),
    ],
    ids=[
        "short",
        "svc-ns",
        "svc-ns-svc",
        "fqdn",
        "ns-wildcard",
        "domain-wildcard",
        "tld-wildcard",
        "star",
        "other-domain-fqdn",
        "other-domain-wildcard",
        "healthy-default-domain",
    ],
)
def test_destination_rule_hosts_in_the_engines_terms(host: str, domain: str, want: str) -> None:
    assert canonical_host(host, domain) == want


# -- HBONE cluster shapes ------------------------------------------------------------------------
# istio/istio pilot/pkg/networking/core/cluster_tls.go applyHBONETransportSocketMatches (b29d7766ddc,
# at 86c9f01fd735): which transport-socket matches a sidecar cluster has when the control plane sends HBONE.
SVC = {
    "name": "reviews",
    "namespace": "bookinfo",
    "port": 9080,
    "subject_alt_names": ("spiffe://cluster.local/ns/bookinfo/sa/reviews",),
}
HBONE_CASES = [
    pytest.param({"tls_mode": "ISTIO_MUTUAL", "auto": True}, [("hbone", {"tunnel": "http"}, "raw"), ("tlsMode-istio", {"tlsMode": "istio"}, "tls"), ("tlsMode-disabled", {}, "raw")], id="auto-mtls"),
    pytest.param({"tls_mode": "ISTIO_MUTUAL"}, [("hbone", {"tunnel": "http"}, "raw"), ("tlsMode-istio", None, "tls")], id="explicit-istio-mutual"),
    pytest.param({"tls_mode": "SIMPLE", "sni": "reviews.example"}, [("hbone", {"tunnel": "http"}, "tls"), ("user", None, "tls")], id="simple"),
    pytest.param({"tls_mode": "MUTUAL", "client_cert_path": "/c.pem", "client_key_path": "/k.pem"}, [("hbone", {"tunnel": "http"}, "tls"), ("user", None, "tls")], id="mutual"),
    pytest.param({"tls_mode": "DISABLE"}, [("hbone", {"tunnel": "http"}, "raw"), ("tlsMode-disabled", {}, "raw")], id="disable"),
]  # fmt: skip


def _inner_kind(socket: dict[str, Any]) -> str:
    if socket["name"] == "envoy.transport_sockets.internal_upstream":
        socket = socket["typed_config"]["transport_socket"]
    return "tls" if socket["name"] == "envoy.transport_sockets.tls" else "raw"


@pytest.mark.parametrize(("tls", "want"), HBONE_CASES)
def test_hbone_transport_socket_matches(tls: dict[str, Any], want: list[tuple[str, Any, str]]) -> None:
    cluster = outbound_cluster(OutboundService(**SVC, **tls, hbone=True), "/xds")
    assert "transport_socket" not in cluster
    got = [
        (m["name"], m.get("match"), _inner_kind(m["transport_socket"]))
        for m in cluster["transport_socket_matches"]
    ]
    assert got == want
    hbone = cluster["transport_socket_matches"][0]["transport_socket"]["typed_config"]
    # FullMetadataPassthroughInternalUpstreamTransportSocket (util/internal_upstream.go, c5d58e6449e).
    assert [(next(iter(p["kind"])), p["name"]) for p in hbone["passthrough_metadata"]] == [
        ("host", "envoy.filters.listener.original_dst"),
        ("cluster", "istio"),
        ("host", "istio"),
    ]


def test_without_ambient_no_hbone_and_no_connect_originate() -> None:
    _, model = _world(load_scenario("seed"))
    files = render_sidecar(model.sidecar_spec(model.pods[0], Path("/lab/pod")))
    names = [c["name"] for c in files["cds.json"]["resources"]]
    assert "connect_originate" not in names
    assert all("hbone" not in json.dumps(c) for c in files["cds.json"]["resources"])


def test_ambient_sidecar_gets_connect_originate_and_hbone_on_every_outbound_cluster() -> None:
    _, model = _world(_seed(ambient_enabled=True))
    files = render_sidecar(model.sidecar_spec(model.pods[0], Path("/lab/pod")))
    clusters = files["cds.json"]["resources"]
    co = next(c for c in clusters if c["name"] == "connect_originate")
    assert (co["type"], co["original_dst_lb_config"]["upstream_port_override"]) == ("ORIGINAL_DST", 15008)
    outbound = [c for c in clusters if c["name"].startswith("outbound|")]
    assert outbound and all(c["transport_socket_matches"][0]["name"] == "hbone" for c in outbound)


# -- access logging ------------------------------------------------------------------------------
def _tel(
    ns: str, name: str, *logging: dict[str, Any], selector: dict[str, str] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessLogging": list(logging)}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    return {
        "apiVersion": "telemetry.istio.io/v1",
        "kind": "Telemetry",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


ENVOY = {"providers": [{"name": "envoy"}]}
OFF = {"disabled": True}
ROOT = "mesh-system"
LOG_CASES = [
    # (mesh, telemetries, expected (inbound, outbound) file or None)
    pytest.param({"accessLogFile": "/dev/stdout"}, [], ("/dev/stdout", "/dev/stdout"), id="healthy-lab-default-logs-on"),
    pytest.param({"accessLogFile": ""}, [], (None, None), id="istio-default-off"),
    pytest.param({}, [], (None, None), id="mesh-config-empty-off"),
    pytest.param({"accessLogFile": ""}, [_tel(ROOT, "mesh-default", ENVOY)], ("/dev/stdout", "/dev/stdout"), id="telemetry-mesh-wide-on"),
    pytest.param({"accessLogFile": ""}, [_tel("bookinfo", "ns", ENVOY)], ("/dev/stdout", "/dev/stdout"), id="telemetry-namespace-on"),
    pytest.param({"accessLogFile": ""}, [_tel("other", "ns", ENVOY)], (None, None), id="telemetry-other-namespace-ignored"),
    pytest.param({"accessLogFile": ""}, [_tel("bookinfo", "wl", ENVOY, selector={"app": "productpage"})], ("/dev/stdout", "/dev/stdout"), id="telemetry-workload-on"),
    pytest.param({"accessLogFile": ""}, [_tel("bookinfo", "wl", ENVOY, selector={"app": "reviews"})], (None, None), id="telemetry-other-workload-ignored"),
    # mergeLogs: `disabled` with no provider named (and no default provider) selects no provider, so
    # istiod falls back to meshConfig.accessLogFile; naming the provider is what turns it off.
    pytest.param({"accessLogFile": "/dev/stdout"}, [_tel("bookinfo", "ns", OFF)], ("/dev/stdout", "/dev/stdout"), id="disabled-without-provider-keeps-mesh-config-log"),
    pytest.param({"accessLogFile": "/dev/stdout"}, [_tel("bookinfo", "ns", {**ENVOY, **OFF})], (None, None), id="telemetry-disables-envoy-provider"),
    pytest.param({"accessLogFile": ""}, [_tel(ROOT, "mesh-default", ENVOY), _tel("bookinfo", "ns", OFF)], (None, None), id="namespace-disables-mesh-wide"),
    pytest.param({"accessLogFile": ""}, [_tel(ROOT, "mesh-default", ENVOY), _tel("bookinfo", "wl", OFF, selector={"app": "productpage"})], (None, None), id="workload-disables-mesh-wide"),
    pytest.param({"accessLogFile": ""}, [_tel("bookinfo", "ns", {**ENVOY, "match": {"mode": "SERVER"}})], ("/dev/stdout", None), id="server-side-only"),
    pytest.param({"accessLogFile": ""}, [_tel("bookinfo", "ns", {**ENVOY, "match": {"mode": "CLIENT"}})], (None, "/dev/stdout"), id="client-side-only"),
    pytest.param({"accessLogFile": "", "defaultProviders": {"accessLogging": ["envoy"]}}, [], ("/dev/stdout", "/dev/stdout"), id="default-provider-on"),
    pytest.param({"accessLogFile": "", "defaultProviders": {"accessLogging": ["envoy"]}}, [_tel("bookinfo", "ns", {})], ("/dev/stdout", "/dev/stdout"), id="no-providers-uses-default"),
    pytest.param({"accessLogFile": ""}, [_tel("bookinfo", "ns", {})], (None, None), id="no-providers-no-default-off"),
    pytest.param({"accessLogFile": "/dev/stdout"}, [_tel("bookinfo", "ns", {"providers": [{"name": "nope"}]})], ("/dev/stdout", "/dev/stdout"), id="unknown-provider-falls-back-to-mesh-config"),
    pytest.param({"accessLogFile": "", "extensionProviders": [{"name": "file-log", "envoyFileAccessLog": {"path": "/var/log/proxy.log"}}]}, [_tel("bookinfo", "ns", {"providers": [{"name": "file-log"}]})], ("/var/log/proxy.log", "/var/log/proxy.log"), id="extension-provider-file"),
    pytest.param({"accessLogFile": "", "extensionProviders": [{"name": "otel", "envoyOtelAls": {"service": "c", "port": 4317}}]}, [_tel("bookinfo", "ns", {"providers": [{"name": "otel"}]})], (None, None), id="otel-provider-no-file"),
]  # fmt: skip


@pytest.mark.parametrize(("mesh", "telemetries", "want"), LOG_CASES)
def test_access_logging_decision(
    mesh: dict[str, Any], telemetries: list[dict[str, Any]], want: tuple[str | None, str | None]
) -> None:
    mesh = {"rootNamespace": ROOT, **mesh}
    labels = {"app": "productpage"}
    inbound = access_logging.decide(mesh, telemetries, "bookinfo", labels, access_logging.SERVER)
    outbound = access_logging.decide(mesh, telemetries, "bookinfo", labels, access_logging.CLIENT)
    assert (inbound.path, outbound.path) == want, (inbound.why, outbound.why)
    assert inbound.why and outbound.why


def test_realistic_scenario_logs_only_in_bookinfo() -> None:
    _, model = _world(load_scenario("realistic"))
    for pod in model.pods:
        spec = model.sidecar_spec(pod, Path("/lab") / pod.name)
        on = pod.namespace == "bookinfo"
        assert (spec.log_inbound, spec.log_outbound) == (on, on), pod.name
        files = render_sidecar(spec)
        hcm_logs = ["access_log" in json.dumps(listener) for listener in files["lds.json"]["resources"]]
        assert all(x == on for x in hcm_logs), pod.name


# -- kubelet status and the pod table -------------------------------------------------------------
NOW = dt.datetime(2026, 1, 1, 0, 1, 0, tzinfo=dt.UTC)


def _native_pod() -> dict[str, Any]:
    objs, _ = _world(with_knobs(load_scenario("seed"), sidecar_mode="native"))
    return next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["namespace"] == "load-test")


def _container_pod() -> dict[str, Any]:
    objs, _ = _world(load_scenario("seed"))
    return next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["namespace"] == "load-test")


def _proxy(pod: dict[str, Any]) -> dict[str, Any]:
    status = pod["status"]
    return next(
        s
        for s in status.get("containerStatuses", []) + status.get("initContainerStatuses", [])
        if s["name"] == "istio-proxy"
    )


@pytest.mark.parametrize("make", [_container_pod, _native_pod], ids=["container", "native"])
def test_envoy_death_restart_and_ready_as_a_kubelet_reports_them(make: Any) -> None:
    pod = make()
    dead = pod_status.terminated(pod, code=137, finished_at="2026-01-01T00:00:30Z", back_off_s=None)
    proxy = _proxy(dead)
    assert proxy["ready"] is False and proxy["lastState"]["terminated"]["exitCode"] == 137
    assert proxy["lastState"]["terminated"]["reason"] == "Error"
    ready = {c["type"]: c for c in dead["status"]["conditions"]}
    assert ready["Ready"]["status"] == "False" and "istio-proxy" in ready["Ready"]["message"]
    again = pod_status.restarted(dead, started_at="2026-01-01T00:00:31Z")
    assert _proxy(again)["restartCount"] == 1 and _proxy(again)["state"] == {
        "running": {"startedAt": "2026-01-01T00:00:31Z"}
    }
    assert pod_row(again, NOW)[0] == "1/2"
    assert pod_row(again, NOW)[2] == "1 (30s ago)"
    healed = pod_status.became_ready(again, now="2026-01-01T00:00:32Z")
    assert pod_row(healed, NOW)[:2] == ("2/2", "Running")
    assert {c["type"]: c["status"] for c in healed["status"]["conditions"]}["Ready"] == "True"


@pytest.mark.parametrize(
    ("make", "status"),
    [(_container_pod, "CrashLoopBackOff"), (_native_pod, "Init:CrashLoopBackOff")],
    ids=["container", "native"],
)
def test_crash_loop_back_off_in_the_pod_table(make: Any, status: str) -> None:
    pod = pod_status.restarted(
        pod_status.terminated(make(), code=1, finished_at="2026-01-01T00:00:10Z", back_off_s=None),
        started_at="2026-01-01T00:00:10Z",
    )
    looping = pod_status.terminated(pod, code=1, finished_at="2026-01-01T00:00:50Z", back_off_s=10)
    proxy = _proxy(looping)
    assert proxy["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert proxy["state"]["waiting"]["message"].startswith(
        "back-off 10s restarting failed container=istio-proxy pod="
    )
    assert pod_row(looping, NOW) == ("1/2", status, "1 (10s ago)")


@pytest.mark.parametrize(
    ("returncode", "code"),
    [(-9, 137), (-15, 143), (1, 1), (0, 0)],
    ids=["sigkill", "sigterm", "exit-1", "exit-0"],
)
def test_exit_code_as_the_runtime_reports_it(returncode: int, code: int) -> None:
    assert pod_status.exit_code(returncode) == code


def test_trust_domain_from_mesh_config_reaches_sans_and_certificates(tmp_path: Path) -> None:
    from cryptography import x509

    from meshlab.ca import LabCA

    _, model = _world(_seed(mesh_config={"trustDomain": "corp.example"}))
    tg = next(p for p in model.pods if p.namespace == "traffic-generator")
    pp = next(s for s in model.outbound(tg) if s.name == "productpage")
    assert pp.subject_alt_names == ("spiffe://corp.example/ns/bookinfo/sa/bookinfo-productpage",)
    files = LabCA().write_workload(tmp_path, "bookinfo", "bookinfo-productpage", trust_domain="corp.example")
    cert = x509.load_pem_x509_certificate(files.cert_chain.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://corp.example/ns/bookinfo/sa/bookinfo-productpage"
    ]


def test_bootstrap_node_metadata_names_the_control_plane() -> None:
    _, model = _world(load_scenario("realistic"))
    pod = next(p for p in model.pods if p.namespace == "load-test")
    meta = render_sidecar(model.sidecar_spec(pod, Path("/lab/pod")))["bootstrap.json"]["node"]["metadata"]
    assert meta["PROXY_CONFIG"]["discoveryAddress"] == "istiod-1-30.mesh-system.svc:15012"
    assert meta["PILOT_SAN"] == ["istiod-1-30.mesh-system.svc"]
    assert meta["LABELS"]["istio.io/rev"] == "1-30" and meta["ANNOTATIONS"]["istio.io/rev"] == "1-30"
    assert meta["ENABLE_HBONE"] == "true" and meta["MESH_ID"] == "cluster.local"


# -- the kubelet's restart decisions (fake processes and clock, the emulator's real store) ------------
class _FakeProc:
    def __init__(self) -> None:
        self.returncode: int | None = None
        self.pid = 0

    def poll(self) -> int | None:
        return self.returncode


class _FakeSupervisor(Supervisor):
    """Children that never run: `start` records a restart, a test 'kills' by setting a return code."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.starts = 0
        self._children[name] = Child(name, ("envoy",), _FakeProc(), Path("/dev/null"))  # type: ignore[arg-type]

    def start(
        self, name: str, argv: Any, *, log_path: Path, env: Any = None, cwd: Path | None = None
    ) -> Child:
        self.starts += 1
        child = Child(name, tuple(argv), _FakeProc(), log_path, cwd)  # type: ignore[arg-type]
        self._children[name] = child
        return child

    def kill(self, name: str) -> None:
        child = self._children[name]
        child.proc.returncode = -9


def test_kubelet_restarts_at_once_then_backs_off_doubling_and_forgets_after_quiet() -> None:
    scenario = load_scenario("seed")
    pods = plan_pods(scenario, SUBNET)
    pod = next(p for p in pods if p.namespace == "load-test")
    store = Store()
    store.load(scenario_objects(scenario, pods, SUBNET))
    name = envoy_name(f"{pod.namespace}/{pod.name}")
    sup = _FakeSupervisor(name)
    now = [0.0]
    kubelet = SidecarKubelet(store, sup, lambda: [pod], clock=lambda: now[0], probe=lambda p: True)

    def status() -> dict[str, Any]:
        got = store.get("pods", pod.namespace, pod.name)
        assert got is not None
        return _proxy(got)

    def crash_and_sync(at: float) -> None:
        now[0] = at
        sup.kill(name)
        kubelet.sync_once()

    crash_and_sync(1.0)  # first exit: restarted in the same sync, not ready until probed
    assert (sup.starts, status()["restartCount"], status()["ready"]) == (1, 1, False)
    kubelet.sync_once()
    assert status()["ready"] is True
    crash_and_sync(5.0)  # second exit: 10 s back-off
    assert sup.starts == 1 and status()["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    now[0] = 14.9
    kubelet.sync_once()
    assert sup.starts == 1
    now[0] = 15.0
    kubelet.sync_once()
    assert (sup.starts, status()["restartCount"]) == (2, 2)
    kubelet.sync_once()
    crash_and_sync(20.0)  # third exit: 20 s
    assert "back-off 20s" in status()["state"]["waiting"]["message"]
    now[0] = 40.0
    kubelet.sync_once()
    assert sup.starts == 3
    kubelet.sync_once()
    crash_and_sync(40.0 + 601)  # quiet for over 10 minutes: the back-off is forgotten
    assert sup.starts == 4 and "state" in status() and "running" in status()["state"]


@pytest.mark.parametrize(
    ("crashes", "previous", "error"),
    [
        pytest.param(0, False, None, id="healthy-current-log"),
        pytest.param(
            0,
            True,
            'previous terminated container "istio-proxy" in pod "{pod}" not found',
            id="no-previous-yet",
        ),
        pytest.param(1, True, None, id="previous-after-a-restart"),
        pytest.param(2, False, None, id="crash-looping-still-has-its-last-log"),
    ],
)
def test_log_requests_around_a_restart(crashes: int, previous: bool, error: str | None) -> None:
    from meshlab.apiserver import logs, podsub
    from meshlab.apiserver.status import ApiError

    pod = _native_pod()
    for i in range(crashes):
        pod = pod_status.terminated(
            pod, code=137, finished_at=f"2026-01-01T00:00:0{i}Z", back_off_s=10 if i else None
        )
        if i + 1 < crashes:
            pod = pod_status.restarted(pod, started_at=f"2026-01-01T00:00:0{i}Z")
    opts = logs.parse_options(pod["metadata"]["name"], {"previous": "true"} if previous else {})
    assert opts.previous is previous
    check = podsub._check_previous if previous else podsub._check_started
    if error is None:
        check(pod, "istio-proxy")
    else:
        with pytest.raises(ApiError) as exc:
            check(pod, "istio-proxy")
        assert exc.value.code == 400 and exc.value.body["message"] == error.format(
            pod=pod["metadata"]["name"]
        )


@pytest.mark.parametrize(
    ("mesh", "text", "json_keys"),
    [
        pytest.param({}, None, None, id="healthy-istio-default-text"),
        pytest.param(
            {"accessLogEncoding": "JSON"},
            None,
            set(ISTIO_JSON_LOG_FORMAT),
            id="json-istio-fields",
        ),
        pytest.param(
            {"accessLogEncoding": "JSON", "accessLogFormat": '{"rid": "%REQ(X-REQUEST-ID)%"}'},
            None,
            {"rid"},
            id="json-own-fields",
        ),
        pytest.param(
            {"accessLogFormat": "%RESPONSE_CODE% %REQ(X-REQUEST-ID)%"},
            "%RESPONSE_CODE% %REQ(X-REQUEST-ID)%\n",
            None,
            id="text-own-format",
        ),
    ],
)
def test_access_log_format_follows_mesh_config(
    mesh: dict[str, Any], text: str | None, json_keys: set[str] | None
) -> None:
    """FileAccessLogFromMeshConfig (pilot/pkg/model/telemetry_logging.go, 21f81ccab0b)."""
    decision = access_logging.decide(
        {"accessLogFile": "/dev/stdout", **mesh}, [], "bookinfo", {}, access_logging.CLIENT
    )
    assert decision.text_format == text
    assert (set(decision.json_format) if decision.json_format else None) == json_keys
    scenario = _seed(mesh_config=mesh)
    _, model = _world(scenario)
    lds = render_sidecar(model.sidecar_spec(model.pods[0], Path("/lab/pod")))["lds.json"]["resources"]
    log_format = json.dumps(lds[0]).split('"log_format": ', 1)[1]
    assert ('"json_format"' in log_format) is (json_keys is not None)


def test_hbone_internal_upstream_has_the_shape_of_a_real_istio_dump() -> None:
    """The `internal_upstream` socket of a real waypoint dump (istioctl testdata, Istio 1.21; see
    shared/fixtures/istio-real-modern/SOURCES.md) has the JSON layout the lab renders for `hbone`."""
    from tests.support.shared_data import SHARED

    dump = json.loads(
        (
            SHARED
            / "fixtures/istio-real-modern/config_dumps/waypoint_istio1.21_httpbin_internal-upstream_istioctl-testdata.json"
        ).read_text()
    )
    clusters = next(c for c in dump["configs"] if "dynamic_active_clusters" in c)["dynamic_active_clusters"]
    real = next(c["cluster"]["transport_socket"] for c in clusters if "transport_socket" in c["cluster"])
    ours = outbound_cluster(OutboundService(**SVC, tls_mode="ISTIO_MUTUAL", auto=True, hbone=True), "/xds")
    lab = ours["transport_socket_matches"][0]["transport_socket"]
    assert real["typed_config"]["@type"] == lab["typed_config"]["@type"]
    assert set(real["typed_config"]) == set(
        lab["typed_config"]
    )  # @type, passthrough_metadata, transport_socket
    assert real["typed_config"]["passthrough_metadata"][0] == lab["typed_config"]["passthrough_metadata"][0]
    assert (
        real["typed_config"]["transport_socket"]["typed_config"]
        == lab["typed_config"]["transport_socket"]["typed_config"]
    )
