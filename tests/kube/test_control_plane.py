"""Control-plane discovery: revision, istiod in another namespace, 403 and 404 as named gaps, overrides.

Object shapes follow istio/istio 86c9f01f manifests/charts/istio-control/istio-discovery/templates
(deployment.yaml: istiod pods `app: istiod`, `istio.io/rev`; configmap.yaml: `istio[-<rev>]` with
rootNamespace = install namespace; mutatingwebhook.yaml: `istio-sidecar-injector[-<rev>]` calling
service `istiod[-<rev>]`) and the chart-rendered ConfigMap in fixtures/istio-real-modern/meshconfig/.
The reads run against an in-memory API that raises the same agent.errors the REST seam maps 403/404 to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import yaml

from agent.errors import Forbidden, NotFound
from agent.istio.control_plane import MeshOverrides, revision_of_pod
from agent.kube.control_plane_reads import list_telemetries, read_control_plane
from agent.kube.raw_api import RawApi
from agent.kube.rest import Rest
from tests.support.shared_data import SHARED

CHART_CM = SHARED / "fixtures" / "istio-real-modern" / "meshconfig"


def istiod(ns: str, rev: str | None) -> dict[str, Any]:
    labels = {"app": "istiod", "istio.io/rev": rev or "default"}
    return {"metadata": {"namespace": ns, "name": f"istiod-{rev or 'x'}-abc", "labels": labels}}


def configmap(ns: str, name: str, mesh: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name}, "data": {"mesh": yaml.safe_dump(mesh)}}


def webhook(ns: str, rev: str | None) -> dict[str, Any]:
    suffix = f"-{rev}" if rev else ""
    return {
        "metadata": {"name": f"istio-sidecar-injector{suffix}", "labels": {"istio.io/rev": rev or "default"}},
        "webhooks": [{"clientConfig": {"service": {"name": f"istiod{suffix}", "namespace": ns}}}],
    }


@dataclass
class FakeApi:
    """The few GETs discovery makes; `deny`/`missing` name the calls that answer 403/404."""

    pods: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    cms: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    telemetries: list[dict[str, Any]] | None = None
    deny: set[str] = field(default_factory=set)

    def _check(self, what: str) -> None:
        if what in self.deny:
            raise Forbidden(f"{what}: forbidden")

    def list_pod_for_all_namespaces(self, label_selector: str) -> dict[str, Any]:
        self._check("pods")
        return {"items": self.pods}

    def list_namespaced_pod(self, namespace: str, label_selector: str) -> dict[str, Any]:
        self._check("pods")
        return {"items": [p for p in self.pods if p["metadata"]["namespace"] == namespace]}

    def list_mutating_webhook_configuration(self, label_selector: str) -> dict[str, Any]:
        self._check("webhooks")
        return {"items": self.hooks}

    def read_namespaced_config_map(self, name: str, namespace: str) -> dict[str, Any]:
        self._check("configmaps")
        if (namespace, name) not in self.cms:
            raise NotFound(f"configmap {namespace}/{name} not found")
        return json.loads(json.dumps(self.cms[(namespace, name)]))

    def list_cluster_custom_object(self, group: str, version: str, plural: str) -> dict[str, Any]:
        self._check("telemetries")
        if self.telemetries is None or version != "v1":
            raise NotFound("not served")
        return {"items": self.telemetries}


class FakeRest:
    def json(self, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)


def discover(
    api: FakeApi,
    overrides: MeshOverrides | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Any:
    return read_control_plane(
        cast(Rest, FakeRest()), cast(RawApi, api), overrides or MeshOverrides(), labels, annotations
    )


def test_healthy_default_install() -> None:
    api = FakeApi(
        pods=[istiod("istio-system", None)],
        cms={
            ("istio-system", "istio"): configmap(
                "istio-system", "istio", {"rootNamespace": "istio-system", "accessLogFile": "/dev/stdout"}
            )
        },
    )
    plane, cm = discover(api)
    assert (plane.istio_namespace, plane.revision, plane.configmap, plane.root_namespace) == (
        "istio-system",
        None,
        "istio",
        "istio-system",
    )
    assert (
        plane.mesh["accessLogFile"] == "/dev/stdout"
        and not plane.gaps
        and cm is not None
        and cm["kind"] == "ConfigMap"
    )


def test_revision_from_source_pod_in_other_namespace() -> None:
    """Revision 1-30 from the source pod's label; istiod in mesh-system; ConfigMap istio-1-30 wins over istio."""
    api = FakeApi(
        pods=[istiod("mesh-system", "1-30"), istiod("mesh-system", "1-29")],
        cms={
            ("mesh-system", "istio-1-30"): configmap(
                "mesh-system", "istio-1-30", {"rootNamespace": "mesh-system", "trustDomain": "corp.internal"}
            ),
            ("mesh-system", "istio"): configmap("mesh-system", "istio", {"rootNamespace": "wrong"}),
        },
    )
    plane, _ = discover(api, labels={"istio.io/rev": "1-30"})
    assert (plane.istio_namespace, plane.revision, plane.configmap) == ("mesh-system", "1-30", "istio-1-30")
    assert (plane.root_namespace, plane.trust_domain) == ("mesh-system", "corp.internal")
    assert not plane.gaps


def test_revision_from_injected_status_annotation_and_webhook() -> None:
    """No istio.io/rev label: the sidecar.istio.io/status annotation names it; istiod pods unreadable (403),
    the injector webhook gives the namespace; the revisioned ConfigMap is absent so `istio` is read."""
    status = json.dumps(
        {"initContainers": ["istio-init", "istio-proxy"], "containers": None, "revision": "canary"}
    )
    api = FakeApi(
        hooks=[webhook("aks-istio-system", "canary")],
        cms={("aks-istio-system", "istio"): configmap("aks-istio-system", "istio", {})},
        deny={"pods"},
    )
    plane, _ = discover(api, labels={}, annotations={"sidecar.istio.io/status": status})
    assert (plane.istio_namespace, plane.revision, plane.configmap) == ("aks-istio-system", "canary", "istio")
    assert plane.root_namespace == "istio-system"  # not set in the ConfigMap: Istio's default
    assert [g.text() for g in plane.gaps] == [
        "istiod pods (app=istiod): forbidden (needs list pods cluster-wide)"
    ]


def test_configmap_forbidden_is_a_named_gap() -> None:
    api = FakeApi(pods=[istiod("istio-system", None)], deny={"configmaps"})
    plane, cm = discover(api)
    assert cm is None and plane.configmap is None and plane.partial
    assert [g.text() for g in plane.gaps] == [
        "ConfigMap istio-system/istio: forbidden (needs get configmaps in namespace istio-system)"
    ]


def test_configmap_missing_is_a_named_gap() -> None:
    api = FakeApi(pods=[istiod("istio-system", "1-30")])
    plane, _ = discover(api)
    assert plane.revision == "1-30"
    assert [g.text() for g in plane.gaps] == [
        "ConfigMap istio-system/istio-1-30: not found",
        "ConfigMap istio-system/istio: not found",
    ]
    assert plane.root_namespace == "istio-system"


def test_overrides_win() -> None:
    api = FakeApi(
        cms={
            ("mesh-system", "istio-1-30"): configmap(
                "mesh-system", "istio-1-30", {"rootNamespace": "mesh-system"}
            )
        }
    )
    overrides = MeshOverrides(
        istio_namespace="mesh-system",
        revision="1-30",
        cluster_domain="corp.internal",
        root_namespace="policies",
    )
    plane, _ = discover(api, overrides)
    assert (plane.istio_namespace, plane.configmap, plane.root_namespace, plane.cluster_domain) == (
        "mesh-system",
        "istio-1-30",
        "policies",
        "corp.internal",
    )


def test_chart_rendered_configmap_root_namespace() -> None:
    """The real chart golden sets rootNamespace istio-control: discovery must not assume istio-system."""
    [path] = list(CHART_CM.glob("*.yaml"))
    doc = yaml.safe_load(path.read_text())
    api = FakeApi(pods=[istiod("istio-system", None)], cms={("istio-system", "istio"): doc})
    plane, _ = discover(api)
    assert plane.root_namespace == "istio-control" and plane.trust_domain == "cluster.local"


@pytest.mark.parametrize(
    ("labels", "annotations", "rev"),
    [
        pytest.param({"istio.io/rev": "default"}, {}, None, id="default-label"),
        pytest.param({"istio.io/rev": "1-30"}, {}, "1-30", id="label"),
        pytest.param({}, {"sidecar.istio.io/status": '{"revision":"1-29"}'}, "1-29", id="annotation"),
        pytest.param({}, {"sidecar.istio.io/status": "not json"}, None, id="bad-annotation"),
    ],
)
def test_revision_of_pod(labels: dict[str, str], annotations: dict[str, str], rev: str | None) -> None:
    assert revision_of_pod(labels, annotations) == rev


def test_telemetries_403_and_not_served() -> None:
    gaps: list[Any] = []
    assert list_telemetries(cast(Rest, FakeRest()), cast(RawApi, FakeApi(deny={"telemetries"})), gaps) == []
    assert [g.text() for g in gaps] == [
        "Telemetry resources: forbidden (needs list telemetries.telemetry.istio.io cluster-wide)"
    ]
    gaps = []
    assert list_telemetries(cast(Rest, FakeRest()), cast(RawApi, FakeApi()), gaps) == [] and gaps == []
    tel = {"metadata": {"namespace": "a", "name": "t"}, "spec": {}}
    [item] = list_telemetries(cast(Rest, FakeRest()), cast(RawApi, FakeApi(telemetries=[tel])), gaps)
    assert item["kind"] == "Telemetry" and item["apiVersion"] == "telemetry.istio.io/v1"


def test_scoped_agent_looks_for_istiod_in_istio_system_only() -> None:
    """A namespace-scoped agent (namespaced RBAC) lists istiod pods in istio-system, not cluster-wide."""

    class NoClusterWide(FakeApi):
        def list_pod_for_all_namespaces(self, label_selector: str) -> dict[str, Any]:
            raise Forbidden("pods cluster-wide: forbidden")

    api = NoClusterWide(
        pods=[istiod("istio-system", "1-30")],
        cms={("istio-system", "istio-1-30"): configmap("istio-system", "istio-1-30", {})},
    )
    plane, _ = read_control_plane(
        cast(Rest, FakeRest()), cast(RawApi, api), MeshOverrides(), None, None, True
    )
    assert (plane.revision, plane.configmap, plane.gaps) == ("1-30", "istio-1-30", ())


def test_discovery_gaps_do_not_put_the_policy_in_doubt() -> None:
    """istiod pods and the webhook unreadable: Istio's default namespace is used and the gaps are
    discovery gaps; the mesh ConfigMap read there keeps the policy view whole."""
    api = FakeApi(
        cms={("istio-system", "istio"): configmap("istio-system", "istio", {})}, deny={"pods", "webhooks"}
    )
    plane, cm = discover(api)
    assert cm is not None and plane.istio_namespace == "istio-system"
    assert {g.affects for g in plane.gaps} == {"discovery"} and plane.gaps_affecting("policy") == ()
