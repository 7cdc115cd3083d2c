"""The lab's Istio control plane as Kubernetes objects: names, meshConfig, istiod, the injector webhook.

Pure: no I/O. Names follow Istio's helm chart (manifests/charts/istio-control/istio-discovery/
templates/{configmap,deployment,mutatingwebhook}.yaml at istio/istio 86c9f01fd735, chart last changed
61c3e55e217): a revision `r` gives ConfigMap `istio-r`, Deployment `istiod-r` and webhook
configuration `istio-sidecar-injector-r` (suffixed `-<namespace>` outside istio-system); every object
carries `istio.io/rev: <r or "default">`. Nothing here runs istiod: the lab renders sidecars itself
(meshlab.mesh); these objects are what a discovery tool finds in a real cluster.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import yaml

from agent.istio.mesh import file_flush_interval
from meshlab.scenario import Scenario

ISTIO_IMAGE_TAG = "1.30.0"  # what the lab's objects claim; the proxies really are Envoy 1.40
DEFAULT_REVISION = "default"  # the chart's `istio.io/rev` value when no revision is set


def revision_label(scenario: Scenario) -> str:
    return scenario.control_plane.revision or DEFAULT_REVISION


def _suffixed(base: str, scenario: Scenario) -> str:
    rev = scenario.control_plane.revision
    return f"{base}-{rev}" if rev else base


def mesh_configmap_name(scenario: Scenario) -> str:
    """`istio`, or `istio-<rev>` for a revisioned install."""
    return _suffixed("istio", scenario)


def istiod_name(scenario: Scenario) -> str:
    """istiod's Deployment, ServiceAccount and Service name: `istiod` or `istiod-<rev>`."""
    return _suffixed("istiod", scenario)


def injector_webhook_name(scenario: Scenario) -> str:
    name = _suffixed("istio-sidecar-injector", scenario)
    ns = scenario.control_plane.namespace
    return name if ns == "istio-system" else f"{name}-{ns}"


def discovery_address(scenario: Scenario) -> str:
    """What injected proxies dial (CA_ADDR, discoveryAddress): `istiod[-rev].<ns>.svc:15012`."""
    return f"{istiod_name(scenario)}.{scenario.control_plane.namespace}.svc:15012"


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Nested mappings merge key by key; any other value (lists, scalars, "") replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


LAB_FLUSH_INTERVAL = "0.1s"


def flush_interval_ms(mesh: dict[str, Any]) -> int:
    """pilot-agent's --file-flush-interval-msec from meshConfig.defaultConfig.fileFlushInterval."""
    return max(1, round(file_flush_interval(mesh) * 1000))


def mesh_config(scenario: Scenario) -> dict[str, Any]:
    """The lab's meshConfig: its defaults, then the scenario's `controlPlane.meshConfig` on top.

    Defaults: access logs to /dev/stdout (Istio's demo profile, manifests/helm-profiles/demo.yaml;
    Istio's own default is "" = off, pkg/config/mesh/mesh.go DefaultMeshConfig), trust domain
    cluster.local, rootNamespace = the istiod namespace (the chart's default), the ambient profile's
    ISTIO_META_ENABLE_HBONE proxy metadata when ambient is enabled (manifests/helm-profiles/ambient.yaml),
    and `defaultConfig.fileFlushInterval: 0.1s` (ProxyConfig.fileFlushInterval, default 1s; pilot-agent
    passes it to Envoy as --file-flush-interval-msec, pkg/envoy/proxy.go) so a request's access-log
    line shows in `kubectl logs` at once and the agent's flush wait is short.
    """
    base: dict[str, Any] = {
        "accessLogFile": "/dev/stdout",
        "defaultProviders": {"metrics": ["prometheus"]},
        "enableAutoMtls": scenario.enable_auto_mtls,
        "rootNamespace": scenario.root_namespace_override or scenario.control_plane.namespace,
        "trustDomain": "cluster.local",
        "defaultConfig": {"fileFlushInterval": LAB_FLUSH_INTERVAL},
    }
    if scenario.control_plane.ambient_enabled:
        base["defaultConfig"]["proxyMetadata"] = {"ISTIO_META_ENABLE_HBONE": "true"}
    return _merge(base, scenario.control_plane.mesh_config)


def mesh_configmap(scenario: Scenario) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": mesh_configmap_name(scenario),
            "namespace": scenario.control_plane.namespace,
            "labels": {
                "istio.io/rev": revision_label(scenario),
                "operator.istio.io/component": "Pilot",
                "app.kubernetes.io/name": "istiod",
            },
        },
        "data": {
            "mesh": yaml.safe_dump(mesh_config(scenario), sort_keys=True),
            "meshNetworks": "networks: {}",
        },
    }


def _suffix(*parts: str, length: int) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[int(digest[i : i + 2], 16) % len(alphabet)] for i in range(0, 2 * length, 2))


def istiod_objects(scenario: Scenario, pod_ip: str) -> list[dict[str, Any]]:
    """ServiceAccount, Deployment, ReplicaSet and one Running Pod of istiod, labelled as the chart labels them.

    The pod's `discovery` container carries PILOT_ENABLE_AMBIENT when ambient is on (how the ambient
    profile turns it on: `pilot.env.PILOT_ENABLE_AMBIENT: "true"`) and REVISION."""
    ns, name, rev = scenario.control_plane.namespace, istiod_name(scenario), revision_label(scenario)
    # The chart: pods of a revisioned istiod are `istio: istiod`, the default one `istio: pilot`.
    labels = {
        "app": "istiod",
        "istio.io/rev": rev,
        "istio": "istiod" if scenario.control_plane.revision else "pilot",
        "sidecar.istio.io/inject": "false",
        "operator.istio.io/component": "Pilot",
        "app.kubernetes.io/name": "istiod",
    }
    selector = (
        {"app": "istiod", "istio.io/rev": rev} if scenario.control_plane.revision else {"istio": "pilot"}
    )
    env = [
        {"name": "REVISION", "value": rev},
        {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
        {"name": "POD_NAMESPACE", "value": ns},
        {"name": "CLUSTER_ID", "value": "Kubernetes"},
    ]
    if scenario.control_plane.ambient_enabled:
        env.append({"name": "PILOT_ENABLE_AMBIENT", "value": "true"})
    container = {
        "name": "discovery",
        "image": f"docker.io/istio/pilot:{ISTIO_IMAGE_TAG}",
        "args": ["discovery", "--monitoringAddr=:15014", "--domain", scenario.cluster_domain],
        "env": env,
        "ports": [
            {"containerPort": 8080, "protocol": "TCP"},
            {"containerPort": 15010, "protocol": "TCP"},
            {"containerPort": 15012, "protocol": "TCP"},
            {"containerPort": 15017, "protocol": "TCP"},
        ],
    }
    rs = f"{name}-{_suffix(ns, name, length=10)}"
    pod_name = f"{rs}-{_suffix(ns, name, 'pod', length=5)}"
    pod_spec = {"serviceAccountName": name, "containers": [container]}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {k: labels[k] for k in ("app", "istio.io/rev")},
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs,
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "controller": True}
                ],
            },
            "spec": {"replicas": 1, "selector": {"matchLabels": selector}},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "controller": True}
                ],
            },
            "spec": pod_spec,
            # Running and Ready by the emulator's defaults; the IP is one no lab process binds.
            "status": {"podIP": pod_ip, "podIPs": [{"ip": pod_ip}]},
        },
    ]


def injector_webhook(scenario: Scenario) -> dict[str, Any]:
    """The sidecar injector's MutatingWebhookConfiguration, pointing at istiod's Service `/inject`.

    Revisioned: selects namespaces (and objects) labelled `istio.io/rev=<rev>`; default: namespaces
    labelled `istio-injection=enabled` (the chart's namespace and object selector cases)."""
    ns, rev = scenario.control_plane.namespace, scenario.control_plane.revision

    def hook(
        prefix: str, namespace_selector: dict[str, Any], object_selector: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "name": f"{prefix}sidecar-injector.istio.io",
            "clientConfig": {
                "service": {"name": istiod_name(scenario), "namespace": ns, "path": "/inject", "port": 443}
            },
            "sideEffects": "None",
            "rules": [
                {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
            ],
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "admissionReviewVersions": ["v1"],
            "namespaceSelector": namespace_selector,
            "objectSelector": object_selector,
        }

    not_disabled = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
    if rev:
        hooks = [
            hook(
                "rev.namespace.",
                {
                    "matchExpressions": [
                        {"key": "istio.io/rev", "operator": "In", "values": [rev]},
                        {"key": "istio-injection", "operator": "DoesNotExist"},
                    ]
                },
                {"matchExpressions": [not_disabled]},
            ),
            hook(
                "rev.object.",
                {
                    "matchExpressions": [
                        {"key": "istio.io/rev", "operator": "DoesNotExist"},
                        {"key": "istio-injection", "operator": "DoesNotExist"},
                    ]
                },
                {
                    "matchExpressions": [
                        not_disabled,
                        {"key": "istio.io/rev", "operator": "In", "values": [rev]},
                    ]
                },
            ),
        ]
    else:
        hooks = [
            hook(
                "namespace.",
                {"matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]},
                {"matchExpressions": [not_disabled]},
            )
        ]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": injector_webhook_name(scenario),
            "labels": {
                "istio.io/rev": revision_label(scenario),
                "app": "sidecar-injector",
                "operator.istio.io/component": "Pilot",
                "app.kubernetes.io/name": "istiod",
            },
        },
        "webhooks": hooks,
    }


def sidecar_status_annotation(scenario: Scenario, native: bool) -> str:
    """The injector's `sidecar.istio.io/status` (istio/istio pkg/kube/inject/testdata/inject/
    native-sidecar.yaml.injected and native-sidecar-opt-out.yaml.injected at f818da38b62)."""
    status = {
        "initContainers": ["istio-init", "istio-proxy"] if native else ["istio-init"],
        "containers": None if native else ["istio-proxy"],
        "volumes": [
            "workload-socket",
            "credential-socket",
            "workload-certs",
            "istio-envoy",
            "istio-data",
            "istio-podinfo",
            "istio-token",
            "istiod-ca-cert",
            "istio-ca-crl",
        ],
        "imagePullSecrets": None,
        "revision": revision_label(scenario),
    }
    return json.dumps(status, separators=(",", ":"))
