"""Turn a lab Scenario into the Kubernetes objects the API-server emulator serves.

Pure: no I/O. Every pod gets a loopback address `<subnet>.<n>` (subnet like "127.42.7"), so the
sidecars and apps of one lab bind to addresses nobody else uses. Pods look like injected Istio
pods: an app container named after the workload and, with a sidecar, istio-init plus an
`istio-proxy` container (or native sidecar init container), the `security.istio.io/tlsMode: istio`
label, the injector's annotations, owner references to a ReplicaSet of a Deployment. The control
plane's objects (meshlab.control_plane) come first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from meshlab import control_plane
from meshlab.scenario import Scenario, WorkloadSpec

FIRST_POD_HOST = 10
ISTIOD_HOST = 2  # istiod's pod address: below the lab pods', bound by no process
FIRST_VIP_HOST = 200
LAB_EPOCH = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class LabPod:
    """One pod of the lab with the address its processes bind to."""

    namespace: str
    name: str
    workload: WorkloadSpec
    ip: str

    @property
    def has_sidecar(self) -> bool:
        return self.workload.sidecar


def _suffix(*parts: str, length: int = 5) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    # Kubernetes' pod-name alphabet has no vowels; mimic its look with digits and consonants.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[int(digest[i : i + 2], 16) % len(alphabet)] for i in range(0, 2 * length, 2))


def plan_pods(scenario: Scenario, subnet: str) -> list[LabPod]:
    pods: list[LabPod] = []
    host = FIRST_POD_HOST
    for w in scenario.workloads:
        rs = _suffix(w.namespace, w.name, length=10)
        for replica in range(w.replicas):
            name = f"{w.name}-{rs}-{_suffix(w.namespace, w.name, str(replica))}"
            pods.append(LabPod(w.namespace, name, w, f"{subnet}.{host}"))
            host += 1
            if host >= FIRST_VIP_HOST:
                raise ValueError("too many pods for one lab subnet")
    return pods


def _meta(kind_ns: str, name: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": kind_ns}
    meta.update(extra)
    return meta


def _labels(w: WorkloadSpec, sidecar_label: bool, revision: str | None = None) -> dict[str, str]:
    labels = {"app": w.name, **w.labels}
    labels.setdefault("version", "v1")
    if sidecar_label:
        labels["security.istio.io/tlsMode"] = "istio"
        labels["service.istio.io/canonical-name"] = labels["app"]
    if revision and w.sidecar:
        # A workload opting into a revision by label (the revision webhook's object selector).
        labels.setdefault("istio.io/rev", revision)
    return labels


def _proxy_container(scenario: Scenario, native: bool) -> dict[str, Any]:
    """istio-proxy as the injector writes it (the fields a tool reads: args, env, ports, probes)."""
    container: dict[str, Any] = {
        "name": "istio-proxy",
        "image": "docker.io/envoyproxy/envoy:v1.40.0",
        "args": [
            "proxy",
            "sidecar",
            "--domain",
            f"$(POD_NAMESPACE).svc.{scenario.cluster_domain}",
            "--proxyLogLevel=warning",
        ],
        "env": [
            {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
            {"name": "CA_ADDR", "value": control_plane.discovery_address(scenario)},
            {"name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes"},
            {"name": "TRUST_DOMAIN", "value": str(control_plane.mesh_config(scenario).get("trustDomain"))},
        ],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
            "periodSeconds": 15,
            "timeoutSeconds": 3,
            "failureThreshold": 4,
            "successThreshold": 1,  # the API server's default
        },
    }
    if native:
        container["restartPolicy"] = "Always"
        container["startupProbe"] = {
            "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
            "periodSeconds": 1,
            "timeoutSeconds": 3,
            "failureThreshold": 600,
            "successThreshold": 1,
        }
    return container


def _running(c: dict[str, Any], created: str) -> dict[str, Any]:
    return {
        "name": c["name"],
        "ready": True,
        "restartCount": 0,
        "image": c["image"],
        "imageID": "",
        "started": True,
        "state": {"running": {"startedAt": created}},
    }


def pod_object(pod: LabPod, created: str = LAB_EPOCH, scenario: Scenario | None = None) -> dict[str, Any]:
    """A pod as the injector and the kubelet leave it: Running, every container ready.

    With a sidecar: istio-init (completed) in initContainers, and istio-proxy in containers or, for
    `sidecarMode: native`, in initContainers with restartPolicy Always (a Kubernetes sidecar container,
    whose status is in initContainerStatuses)."""
    scenario = scenario or Scenario(name="-", workloads=[])
    w = pod.workload
    rs_name = pod.name.rsplit("-", 1)[0]
    native = w.sidecar and w.sidecar_mode == "native"
    containers: list[dict[str, Any]] = [
        {
            "name": w.name,
            "image": f"meshprober-lab/{w.name}:latest",
            "ports": [{"containerPort": p.target, "name": p.name} for p in w.ports],
        }
    ]
    init: list[dict[str, Any]] = []
    if w.sidecar:
        init.append(
            {"name": "istio-init", "image": "docker.io/istio/proxyv2:1.30.0", "args": ["istio-iptables"]}
        )
        (init if native else containers).append(_proxy_container(scenario, native))
    revision = scenario.control_plane.revision
    if w.sidecar:
        annotations: dict[str, Any] = {
            "kubectl.kubernetes.io/default-container": w.name,
            "kubectl.kubernetes.io/default-logs-container": w.name,
            "istio.io/rev": control_plane.revision_label(scenario),
            "sidecar.istio.io/status": control_plane.sidecar_status_annotation(scenario, native),
        }
    else:
        annotations = {"kubectl.kubernetes.io/default-container": w.name, "sidecar.istio.io/inject": "false"}
    init_statuses = []
    for c in init:
        if c.get("restartPolicy") == "Always":
            init_statuses.append(_running(c, created))
        else:
            init_statuses.append(
                {
                    "name": c["name"],
                    "ready": True,
                    "restartCount": 0,
                    "image": c["image"],
                    "imageID": "",
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": created,
                            "finishedAt": created,
                        }
                    },
                }
            )
    spec: dict[str, Any] = {"serviceAccountName": w.sa, "containers": containers}
    status: dict[str, Any] = {
        "phase": "Running",
        "podIP": pod.ip,
        "podIPs": [{"ip": pod.ip}],
        "hostIP": pod.ip,
        "startTime": created,
        "conditions": [
            {"type": t, "status": "True", "lastTransitionTime": created}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": [_running(c, created) for c in containers],
    }
    if init:
        spec["initContainers"] = init
        status["initContainerStatuses"] = init_statuses
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(
            pod.namespace,
            pod.name,
            labels=_labels(w, w.sidecar, revision),
            annotations=annotations,
            ownerReferences=[
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "controller": True}
            ],
        ),
        "spec": spec,
        "status": status,
    }


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def scenario_objects(
    scenario: Scenario, pods: list[LabPod], subnet: str, created: str = LAB_EPOCH
) -> list[dict[str, Any]]:
    """Namespaces, mesh ConfigMap, ServiceAccounts, Deployments, ReplicaSets, Pods, Services, and
    the scenario's Istio resources, in an order a real cluster could have created them."""
    objs: list[dict[str, Any]] = []
    revision = scenario.control_plane.revision
    # Injection is enabled per namespace: `istio-injection=enabled`, or `istio.io/rev=<rev>` for a revision.
    inject = {"istio.io/rev": revision} if revision else {"istio-injection": "enabled"}
    for ns in scenario.namespaces():
        labels = {} if ns == scenario.control_plane.namespace else dict(inject)
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    objs.append(control_plane.mesh_configmap(scenario))
    objs.extend(control_plane.istiod_objects(scenario, f"{subnet}.{ISTIOD_HOST}"))
    objs.append(control_plane.injector_webhook(scenario))
    vip = FIRST_VIP_HOST
    for w in scenario.workloads:
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(w.namespace, w.sa)})
        selector = {"app": w.name, **{k: v for k, v in w.labels.items() if k == "app"}}
        template_labels = _labels(w, False, revision)
        rs_name = f"{w.name}-{_suffix(w.namespace, w.name, length=10)}"
        objs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": _meta(w.namespace, w.name, labels={"app": w.name}),
                "spec": {
                    "replicas": w.replicas,
                    "selector": {"matchLabels": selector},
                    "template": {
                        "metadata": {"labels": template_labels},
                        "spec": {"serviceAccountName": w.sa},
                    },
                },
            }
        )
        objs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": _meta(
                    w.namespace,
                    rs_name,
                    labels={"app": w.name},
                    ownerReferences=[
                        {"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name, "controller": True}
                    ],
                ),
                "spec": {"replicas": w.replicas, "selector": {"matchLabels": selector}},
            }
        )
        if w.ports and w.service:
            objs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": _meta(w.namespace, w.name, labels={"app": w.name, "service": w.name}),
                    "spec": {
                        "selector": selector,
                        "clusterIP": f"{subnet}.{vip}",
                        "ports": [
                            {"name": p.name, "port": p.port, "targetPort": p.target, "protocol": "TCP"}
                            for p in w.ports
                        ],
                    },
                }
            )
            vip += 1
    objs.extend(_clean(pod_object(p, created, scenario)) for p in pods)
    objs.extend(scenario.resources)
    return [_stamped(o, created) for o in objs]


def _stamped(obj: dict[str, Any], created: str) -> dict[str, Any]:
    """A copy with metadata.creationTimestamp set unless the scenario gave one (PA order uses it)."""
    meta = {"creationTimestamp": created, **(obj.get("metadata") or {})}
    return {**obj, "metadata": meta}
