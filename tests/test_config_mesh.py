"""The `mesh:` block: overrides of control-plane discovery, and the cluster domain in service targets."""

from __future__ import annotations

from typing import Any

import pytest

from agent.config import parse_config_text
from agent.errors import ConfigError
from agent.istio.control_plane import MeshOverrides
from agent.wiring import apply_mesh

MESH = """\
mesh: {istioNamespace: mesh-system, revision: 1-30, clusterDomain: corp.internal, rootNamespace: mesh-system}
paths:
  - name: by-service
    from: {namespace: bookinfo, workload: traffic-generator}
    to: {service: productpage, namespace: bookinfo, port: 9080, path: /productpage}
  - name: by-url
    from: {namespace: bookinfo, workload: traffic-generator}
    to: {url: "http://reviews.bookinfo.svc.corp.internal:9080/"}
"""


def test_mesh_block_and_cluster_domain() -> None:
    cfg = parse_config_text(MESH, "agent.yaml")
    m = cfg.mesh
    assert (m.istio_namespace, m.revision, m.cluster_domain, m.root_namespace) == (
        "mesh-system",
        "1-30",
        "corp.internal",
        "mesh-system",
    )
    by_service, by_url = cfg.paths
    assert by_service.to.target_url == "http://productpage.bookinfo.svc.corp.internal:9080/productpage"
    assert by_service.destination() == ("productpage", "bookinfo", 9080)
    assert by_url.destination() == ("reviews", "bookinfo", 9080)  # any cluster domain names a Service


def test_no_mesh_block_is_discovery_and_cluster_local() -> None:
    """Healthy default: nothing overridden, cluster.local URLs."""
    cfg = parse_config_text("paths: []\n", "a.yaml")
    assert cfg.mesh.istio_namespace is None and cfg.mesh.cluster_domain is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("mesh: {revision: 1.30}\n", "mesh.revision", id="bad-revision"),
        pytest.param("mesh: {istioNamespace: Istio_System}\n", "mesh.istioNamespace", id="bad-namespace"),
        pytest.param("mesh: {clusterDomain: 'corp internal'}\n", "mesh.clusterDomain", id="bad-domain"),
        pytest.param("mesh: {meshConfigMap: x}\n", "mesh.meshConfigMap: unknown field", id="unknown-field"),
    ],
)
def test_bad_mesh_block_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config_text(text, "agent.yaml")
    assert message in str(exc.value), str(exc.value)


def test_apply_mesh_sets_live_overrides() -> None:
    class Live:
        """Just the ControlPlaneCluster surface of LiveCluster."""

        mesh_overrides = MeshOverrides()
        last_control_plane = None
        on_control_plane = staticmethod(lambda plane: None)

        def control_plane(self, source_labels: Any = None, source_annotations: Any = None) -> Any:
            raise AssertionError("not called")

    live = Live()
    apply_mesh(parse_config_text(MESH, "a.yaml"), live)  # type: ignore[arg-type]
    assert live.mesh_overrides == MeshOverrides("mesh-system", "1-30", "corp.internal", "mesh-system")
