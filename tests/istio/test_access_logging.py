"""Access logging known: meshConfig accessLogFile + Telemetry (mesh, namespace, workload) precedence.

Rules read from istio/istio 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c pilot/pkg/model/telemetry.go
(`applicableTelemetries`, `AccessLogging`, `mergeLogs`, `matchWorkloadMode`),
pilot/pkg/networking/core/accesslog.go (`setHTTPAccessLog`: fallback to meshConfig.accessLogFile) and
pkg/config/mesh/mesh.go (built-in `envoy` provider = /dev/stdout). Cases mirror the shapes of
telemetry_logging_test.go / the docs task https://istio.io/latest/docs/tasks/observability/logs/access-log/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.istio.access_logging import decide, enable_telemetry

ROOT = "istio-system"


def tel(
    ns: str,
    name: str,
    logging: list[dict[str, Any]],
    selector: dict[str, str] | None = None,
    created: str = "",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessLogging": logging}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    meta = {"namespace": ns, "name": name, "creationTimestamp": created or "2026-01-01T00:00:00Z"}
    return {"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry", "metadata": meta, "spec": spec}


ENVOY = [{"providers": [{"name": "envoy"}]}]
OFF = [{"disabled": True}]


@dataclass
class Row:
    id: str
    on: bool
    mesh: dict[str, Any] = field(default_factory=dict)
    objects: list[dict[str, Any]] = field(default_factory=list)
    namespace: str = "bookinfo"
    labels: dict[str, str] = field(default_factory=lambda: {"app": "productpage"})
    mode: str = "CLIENT"
    why: str = ""
    filtered: bool = False


ROWS = [
    Row(
        "healthy-meshconfig-stdout",
        True,
        {"accessLogFile": "/dev/stdout"},
        why="accessLogFile is /dev/stdout",
    ),
    Row("default-profile-off", False, {}, why="accessLogFile is empty"),
    Row("meshconfig-file-not-stdout", False, {"accessLogFile": "/var/log/envoy.log"}, why="not /dev/stdout"),
    Row(
        "telemetry-mesh-level-on",
        True,
        {},
        [tel(ROOT, "mesh-default", ENVOY)],
        why="Telemetry istio-system/mesh-default",
    ),
    Row(
        "telemetry-mesh-level-custom-root",
        True,
        {"rootNamespace": "mesh-system"},
        [tel("mesh-system", "mesh-default", ENVOY)],
        why="mesh-system/mesh-default",
    ),
    Row(
        "telemetry-namespace-level-on",
        True,
        {},
        [tel("bookinfo", "logs", ENVOY)],
        why="Telemetry bookinfo/logs",
    ),
    Row(
        "telemetry-other-namespace-only",
        False,
        {},
        [tel("other", "logs", ENVOY)],
        why="accessLogFile is empty",
    ),
    Row(
        "telemetry-namespace-disables-mesh",
        False,
        {},
        [tel(ROOT, "mesh-default", ENVOY), tel("bookinfo", "quiet", OFF)],
        why="Telemetry bookinfo/quiet disables",
    ),
    Row(
        "telemetry-disables-meshconfig-file",
        False,
        {"accessLogFile": "/dev/stdout"},
        [tel("bookinfo", "quiet", [{"providers": [{"name": "envoy"}], "disabled": True}])],
        why="disables",
    ),
    Row(
        "workload-selector-disables",
        False,
        {},
        [tel("bookinfo", "logs", ENVOY), tel("bookinfo", "pp-off", OFF, {"app": "productpage"})],
        why="Telemetry bookinfo/pp-off",
    ),
    Row(
        "workload-selector-other-workload",
        True,
        {},
        [tel("bookinfo", "logs", ENVOY), tel("bookinfo", "rv-off", OFF, {"app": "reviews"})],
        why="bookinfo/logs",
    ),
    Row(
        "workload-selector-enables",
        True,
        {},
        [tel("bookinfo", "pp-on", ENVOY, {"app": "productpage"})],
        why="bookinfo/pp-on",
    ),
    Row(
        "mode-server-only-client-side",
        False,
        {},
        [tel("bookinfo", "srv", [{"providers": [{"name": "envoy"}], "match": {"mode": "SERVER"}}])],
        mode="CLIENT",
    ),
    Row(
        "mode-server-only-server-side",
        True,
        {},
        [tel("bookinfo", "srv", [{"providers": [{"name": "envoy"}], "match": {"mode": "SERVER"}}])],
        mode="SERVER",
    ),
    Row(
        "filter-means-filtered",
        True,
        {},
        [
            tel(
                "bookinfo",
                "errs",
                [{"providers": [{"name": "envoy"}], "filter": {"expression": "response.code >= 400"}}],
            )
        ],
        filtered=True,
    ),
    Row(
        "default-providers-envoy",
        True,
        {"defaultProviders": {"accessLogging": ["envoy"]}},
        why="defaultProviders",
    ),
    Row(
        "otel-provider-not-in-container-log",
        False,
        {"extensionProviders": [{"name": "otel", "envoyOtelAls": {"service": "x", "port": 4317}}]},
        [tel(ROOT, "mesh-default", [{"providers": [{"name": "otel"}]}])],
        why="provider otel",
    ),
    Row(
        "unknown-provider-falls-back-to-meshconfig",
        True,
        {"accessLogFile": "/dev/stdout"},
        [tel(ROOT, "mesh-default", [{"providers": [{"name": "nope"}]}])],
        why="accessLogFile",
    ),
    Row(
        "envoy-provider-overridden-to-file",
        False,
        {"extensionProviders": [{"name": "envoy", "envoyFileAccessLog": {"path": "/tmp/a.log"}}]},
        [tel(ROOT, "mesh-default", ENVOY)],
    ),
    Row(
        "first-namespace-wide-by-creation-wins",
        True,
        {},
        [
            tel("bookinfo", "b-later", OFF, created="2026-02-01T00:00:00Z"),
            tel("bookinfo", "a-first", ENVOY, created="2026-01-01T00:00:00Z"),
        ],
        why="bookinfo/a-first",
    ),
    Row(
        "target-refs-do-not-attach-to-sidecars",
        False,
        {},
        [
            {
                **tel("bookinfo", "gw", ENVOY),
                "spec": {"targetRefs": [{"kind": "Gateway", "name": "gw"}], "accessLogging": ENVOY},
            }
        ],
    ),
    Row(
        "root-namespace-pod-uses-root-once",
        True,
        {},
        [tel(ROOT, "mesh-default", ENVOY)],
        namespace=ROOT,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_logging_decision(row: Row) -> None:
    root = row.mesh.get("rootNamespace", ROOT)
    d = decide(row.mesh, row.objects, root, row.namespace, row.labels, row.mode)  # type: ignore[arg-type]
    assert d.on is row.on, d.why
    assert row.why in d.why
    assert d.filtered is row.filtered


def test_enable_telemetry_yaml() -> None:
    import yaml

    doc = yaml.safe_load(enable_telemetry("bookinfo"))
    assert doc["kind"] == "Telemetry" and doc["metadata"]["namespace"] == "bookinfo"
    assert doc["spec"]["accessLogging"][0]["providers"] == [{"name": "envoy"}]
