"""Outbound (Host-routed) and inbound (PeerAuthentication-shaped) Envoy listeners. Pure."""

from __future__ import annotations

from typing import Any

from meshlab.sidecar.clusters import inbound_cluster_name
from meshlab.sidecar.istio_defaults import ISTIO_RETRY_POLICY, ISTIO_TEXT_LOG_FORMAT
from meshlab.sidecar.spec import ISTIO_INBOUND_ALPNS, InboundPort, OutboundService, SidecarSpec
from meshlab.sidecar.tls import inbound_tls_socket

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
FILE_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
TLS_INSPECTOR_TYPE = "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"


def access_log(
    path: str, text_format: str | None = None, json_format: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Envoy's file access log as istiod renders it: JSON fields, or a text format (Istio's by default)."""
    log_format: dict[str, Any] = (
        {"json_format": json_format}
        if json_format
        else {"text_format_source": {"inline_string": text_format or ISTIO_TEXT_LOG_FORMAT}}
    )
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {"@type": FILE_LOG_TYPE, "path": path, "log_format": log_format},
        }
    ]


def _hcm(
    stat_prefix: str,
    route_config: dict[str, Any],
    log_path: str | None,
    rbac_namespace: str | None = None,
    spec: SidecarSpec | None = None,
) -> dict[str, Any]:
    """An HCM with Istio's log format (no access_log when log_path is None: logging off, as istiod
    renders it); `rbac_namespace` set means a DENY-all AuthorizationPolicy there."""
    http_filters: list[dict[str, Any]] = []
    if rbac_namespace:
        # AuthorizationPolicy DENY for everyone: Envoy answers 403 "RBAC: access denied".
        http_filters.append(
            {
                "name": "envoy.filters.http.rbac",
                "typed_config": {
                    "@type": RBAC_TYPE,
                    "rules": {
                        "action": "DENY",
                        "policies": {
                            f"ns[{rbac_namespace}]-policy[deny-all]-rule[0]": {
                                "permissions": [{"any": True}],
                                "principals": [{"any": True}],
                            }
                        },
                    },
                },
            }
        )
    http_filters.append({"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}})
    config: dict[str, Any] = {
        "@type": HCM_TYPE,
        "stat_prefix": stat_prefix,
        "route_config": route_config,
        "http_filters": http_filters,
        # Keep the caller's x-request-id so one id ties curl, client and server logs together.
        "preserve_external_request_id": True,
        "use_remote_address": False,
    }
    if log_path is not None:
        text, fields = (spec.log_text_format, spec.log_json_format) if spec is not None else (None, None)
        config["access_log"] = access_log(log_path, text, fields)
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": config}


def _domains(svc: OutboundService, taken: set[str]) -> list[str]:
    names = [svc.name, f"{svc.name}.{svc.namespace}", f"{svc.name}.{svc.namespace}.svc", svc.fqdn]
    out: list[str] = []
    for name in names:
        # One listener serves every port here, so a bare name is only safe for the first service using it.
        for domain in (f"{name}:{svc.port}", name):
            if domain not in taken:
                taken.add(domain)
                out.append(domain)
    return out


def outbound_route_config(spec: SidecarSpec) -> dict[str, Any]:
    taken: set[str] = set()
    vhosts = []
    for svc in spec.outbound:
        route: dict[str, Any] = {
            "cluster": svc.cluster_name,
            "timeout": f"{svc.route_timeout_s:g}s" if svc.route_timeout_s else "0s",
            "retry_policy": ISTIO_RETRY_POLICY,
            "max_grpc_timeout": "0s",
        }
        vhosts.append(
            {
                "name": f"{svc.fqdn}:{svc.port}",
                "domains": _domains(svc, taken),
                "routes": [
                    {
                        "name": "default",
                        "match": {"prefix": "/"},
                        "route": route,
                        "decorator": {"operation": f"{svc.fqdn}:{svc.port}/*"},
                    }
                ],
            }
        )
    return {"name": "outbound", "virtual_hosts": vhosts, "validate_clusters": False}


def _listener(
    ip: str, port: int, direction: str, chains: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A listener on ip:port, named "<ip>_<port>" as istiod names a sidecar's listeners."""
    return {
        "@type": LISTENER_TYPE,
        "name": f"{ip}_{port}",
        "address": {"socket_address": {"address": ip, "port_value": port}},
        "traffic_direction": direction,
        **extra,
        "filter_chains": chains,
    }


def outbound_listener(spec: SidecarSpec) -> dict[str, Any]:
    """Where iptables would send the app's outbound traffic: routes by Host to outbound clusters."""
    log = spec.files.access_log if spec.log_outbound else None
    hcm = _hcm("outbound_0.0.0.0_http", outbound_route_config(spec), log, spec=spec)
    return _listener(spec.pod_ip, spec.outbound_port, "OUTBOUND", [{"filters": [hcm]}])


def _inbound_hcm(spec: SidecarSpec, port: InboundPort) -> dict[str, Any]:
    cluster = inbound_cluster_name(port)
    route_config = {
        "name": cluster,
        "virtual_hosts": [
            {
                "name": f"inbound|http|{port.port}",
                "domains": ["*"],
                "routes": [
                    {
                        "name": "default",
                        "match": {"prefix": "/"},
                        "route": {"cluster": cluster, "timeout": "0s", "max_grpc_timeout": "0s"},
                    }
                ],
            }
        ],
        "validate_clusters": False,
    }
    deny_ns = spec.namespace if port.rbac_deny else None
    log = spec.files.access_log if spec.log_inbound else None
    return _hcm(f"inbound_0.0.0.0_{port.target_port}", route_config, log, deny_ns, spec=spec)


def inbound_listener(spec: SidecarSpec, port: InboundPort) -> dict[str, Any]:
    """Inbound listener on the target port; its filter chains follow the effective PeerAuthentication."""
    hcm = _inbound_hcm(spec, port)
    mtls: dict[str, Any] = {
        "name": "mtls",
        "filter_chain_match": {"transport_protocol": "tls"},
        "transport_socket": inbound_tls_socket(),
        "filters": [hcm],
    }
    plaintext = {
        "name": "plaintext",
        "filter_chain_match": {"transport_protocol": "raw_buffer"},
        "filters": [hcm],
    }
    if port.mode == "STRICT":
        # Only TLS matches; plaintext finds no chain and Envoy closes the connection.
        chains = [mtls]
    elif port.mode == "PERMISSIVE":
        mtls["filter_chain_match"]["application_protocols"] = list(ISTIO_INBOUND_ALPNS)
        chains = [mtls, plaintext]
    else:  # DISABLE: a TLS ClientHello matches nothing and is closed
        chains = [plaintext]
    tls_inspector = {
        "name": "envoy.filters.listener.tls_inspector",
        "typed_config": {"@type": TLS_INSPECTOR_TYPE},
    }
    return _listener(spec.pod_ip, port.target_port, "INBOUND", chains, listener_filters=[tls_inspector])
