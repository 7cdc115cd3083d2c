"""Realistic Kubernetes/Istio objects (as YAML-ready dicts) that a golden scenario represents. Pure."""

from __future__ import annotations

from typing import Any

from tools.golden_capture.golden_scenarios import GoldenScenario

SERVER_NS, SERVER_APP, SERVER_SA = "bookinfo", "productpage", "bookinfo-productpage"
CLIENT_NS, CLIENT_APP = "load-test", "loadgen"
SERVER_POD, CLIENT_POD = "productpage-v1-7d6cfb7dfd-4xq2m", "loadgen-5d8f7c9b6-x2x7q"
CREATED = "2026-11-27T04:00:00Z"


def _meta(name: str, ns: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "creationTimestamp": CREATED, **extra}


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(SERVER_APP, SERVER_NS, labels={"app": SERVER_APP, "service": SERVER_APP}),
        "spec": {
            "selector": {"app": SERVER_APP},
            "type": "ClusterIP",
            "ports": [{"name": "http", "port": 9080, "targetPort": 9080, "protocol": "TCP"}],
        },
    }


def pod(
    name: str, ns: str, app: str, sa: str, ip: str, sidecar: bool, stale_label: bool = False
) -> dict[str, Any]:
    labels = {"app": app, "version": "v1"}
    if stale_label:
        # Injected once, then restarted with injection off: the label outlived the sidecar.
        labels["security.istio.io/tlsMode"] = "istio"
    annotations = {"kubectl.kubernetes.io/default-container": app}
    containers: list[dict[str, Any]] = [
        {"name": app, "image": f"docker.io/istio/examples-bookinfo-{app}-v1:1.20.2"}
    ]
    if sidecar:
        labels |= {
            "security.istio.io/tlsMode": "istio",
            "service.istio.io/canonical-name": app,
            "service.istio.io/canonical-revision": "v1",
        }
        annotations["sidecar.istio.io/status"] = (
            '{"containers":["istio-proxy"],"initContainers":["istio-init"]}'
        )
        containers.append(
            {
                "name": "istio-proxy",
                "image": "docker.io/istio/proxyv2:1.28.0",
                "args": ["proxy", "sidecar", "--domain", f"{ns}.svc.cluster.local"],
            }
        )
    else:
        annotations["sidecar.istio.io/inject"] = "false"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(name, ns, labels=labels, annotations=annotations),
        "spec": {"serviceAccountName": sa, "containers": containers},
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def shadowed_destination_rule(sc: GoldenScenario) -> dict[str, Any] | None:
    """The service owner's DR in bookinfo that a DR in the client's namespace takes precedence over."""
    if sc.shadowed_dr_tls_mode is None:
        return None
    spec: dict[str, Any] = {"host": SERVER_APP, "trafficPolicy": {"tls": {"mode": sc.shadowed_dr_tls_mode}}}
    if sc.shadowed_dr_private:
        spec["exportTo"] = ["."]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": _meta(SERVER_APP, SERVER_NS),
        "spec": spec,
    }


def destination_rule(sc: GoldenScenario) -> dict[str, Any] | None:
    if not sc.destination_rule:
        return None
    ns, _, name = sc.destination_rule.partition("/")
    # A short host resolves in the DR's own namespace: outside bookinfo it must be the FQDN.
    host = SERVER_APP if ns == SERVER_NS else f"{SERVER_APP}.{SERVER_NS}.svc.cluster.local"
    if ns == "istio-system":
        host = "*.local"  # a mesh-wide default in the root namespace
    tp: dict[str, Any] = {}
    if sc.dr_tls_mode:
        tp["tls"] = {"mode": sc.dr_tls_mode}
        if sc.dr_tls_mode == "ISTIO_MUTUAL" and sc.subject_alt_names is not None:
            tp["tls"]["subjectAltNames"] = list(sc.subject_alt_names)
        if sc.dr_tls_mode in ("SIMPLE", "MUTUAL"):
            tp["tls"]["caCertificates"] = "/etc/certs/root-cert.pem"
        if sc.dr_tls_mode == "MUTUAL":
            tp["tls"]["clientCertificate"] = "/etc/user-certs/cert-chain.pem"
            tp["tls"]["privateKey"] = "/etc/user-certs/key.pem"
    p = sc.traffic_policy
    pool: dict[str, Any] = {}
    if p.max_connections is not None:
        pool["tcp"] = {"maxConnections": p.max_connections}
    http = {
        k: v
        for k, v in (
            ("http1MaxPendingRequests", p.http1_max_pending_requests),
            ("http2MaxRequests", p.http2_max_requests),
        )
        if v is not None
    }
    if http:
        pool["http"] = http
    if pool:
        tp["connectionPool"] = pool
    if p.load_balancer:
        tp["loadBalancer"] = {"simple": p.load_balancer}
    if p.consecutive_5xx_errors is not None:
        tp["outlierDetection"] = {
            "consecutive5xxErrors": p.consecutive_5xx_errors,
            "interval": "1s",
            "baseEjectionTime": f"{p.base_ejection_time_s or 30:g}s",
            "maxEjectionPercent": 100,
        }
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": _meta(name, ns),
        "spec": {"host": host, "trafficPolicy": tp},
    }


def peer_authentication(sc: GoldenScenario) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": _meta("default", SERVER_NS),
        "spec": _pa_spec(sc),
    }


def _pa_spec(sc: GoldenScenario) -> dict[str, Any]:
    if sc.namespace_mode is None:
        return {"mtls": {"mode": sc.server_mode}}
    # Port-level override: portLevelMtls needs a selector (Istio ignores it on a namespace-wide PA).
    return {
        "selector": {"matchLabels": {"app": SERVER_APP}},
        "mtls": {"mode": sc.namespace_mode},
        "portLevelMtls": {"9080": {"mode": sc.server_mode}},
    }


def virtual_service(sc: GoldenScenario) -> dict[str, Any] | None:
    if sc.route_timeout_s is None:
        return None
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": _meta(SERVER_APP, SERVER_NS),
        "spec": {
            "hosts": [SERVER_APP],
            "http": [
                {"timeout": f"{sc.route_timeout_s:g}s", "route": [{"destination": {"host": SERVER_APP}}]}
            ],
        },
    }


def authorization_policy(sc: GoldenScenario) -> dict[str, Any] | None:
    if not sc.rbac_deny:
        return None
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": _meta("deny-all", SERVER_NS),
        "spec": {"selector": {"matchLabels": {"app": SERVER_APP}}, "action": "DENY", "rules": [{}]},
    }


def resources(sc: GoldenScenario, client_ip: str, server_ip: str) -> dict[str, dict[str, Any]]:
    """{file name: object} for a bundle's resources/ directory."""
    out: dict[str, dict[str, Any] | None] = {
        "service-productpage.yaml": service(),
        "pod-productpage.yaml": pod(
            SERVER_POD, SERVER_NS, SERVER_APP, SERVER_SA, server_ip, sc.server_sidecar, sc.stale_istio_label
        ),
        "pod-loadgen.yaml": pod(CLIENT_POD, CLIENT_NS, CLIENT_APP, "default", client_ip, sc.client_sidecar),
        "peerauthentication-default.yaml": peer_authentication(sc),
        "destinationrule.yaml": destination_rule(sc),
        "destinationrule-bookinfo.yaml": shadowed_destination_rule(sc),
        "virtualservice.yaml": virtual_service(sc),
        "authorizationpolicy.yaml": authorization_policy(sc),
    }
    if sc.no_endpoints:
        out.pop("pod-productpage.yaml")
    return {k: v for k, v in out.items() if v is not None}
