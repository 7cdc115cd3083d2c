"""A partial control-plane view is visible: a metric per unreadable object and a status-page warning."""

from __future__ import annotations

from prometheus_client import generate_latest

from agent.istio.control_plane import ControlPlane, Gap
from agent.serve.metrics import StoreCollector, make_registry
from agent.serve.status_page import render_status_page
from agent.serve.store import ResultStore

GAP = Gap("ConfigMap mesh-system/istio-1-30", "forbidden", "get configmaps in namespace mesh-system")
PARTIAL = ControlPlane("mesh-system", "1-30", None, root_namespace="mesh-system", gaps=(GAP,))
FULL = ControlPlane("istio-system", None, "istio")


def _scrape(plane: ControlPlane | None) -> str:
    store = ResultStore()
    store.set_control_plane(plane)
    return generate_latest(make_registry(StoreCollector(store, dict))).decode()


def test_partial_view_metric_names_object_and_permission() -> None:
    text = _scrape(PARTIAL)
    assert (
        'meshprober_control_plane_view_gap{object="ConfigMap mesh-system/istio-1-30",'
        'permission="get configmaps in namespace mesh-system",reason="forbidden"} 1.0'
    ) in text
    assert 'partial="true"' in text and 'revision="1-30"' in text


def test_full_view_has_no_gap_series() -> None:
    """Healthy row: a complete view exports the info series and no gap series."""
    text = _scrape(FULL)
    assert "meshprober_control_plane_view_gap{" not in text
    assert 'meshprober_control_plane_info{configmap="istio",istio_namespace="istio-system"' in text


def test_status_page_says_partial() -> None:
    html = render_status_page([], {}, None, control_plane=PARTIAL)
    assert "Partial view of the control plane" in html and "get configmaps in namespace mesh-system" in html
    assert "Partial view" not in render_status_page([], {}, None, control_plane=FULL)
