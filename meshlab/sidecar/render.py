"""Assemble one sidecar's bootstrap and file-based xDS documents. Pure: returns {file name: JSON doc}."""

from __future__ import annotations

from typing import Any

from meshlab.sidecar.clusters import (
    connect_originate_cluster,
    eds_file_name,
    inbound_cluster,
    outbound_assignment,
    outbound_cluster,
)
from meshlab.sidecar.listeners import inbound_listener, outbound_listener
from meshlab.sidecar.spec import SidecarSpec
from meshlab.sidecar.tls import file_cert_secret_name, file_root_secret_name

CDS_FILE = "cds.json"
LDS_FILE = "lds.json"
BOOTSTRAP_FILE = "bootstrap.json"


def _discovery(version: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version_info": version, "resources": resources}


def _secrets(spec: SidecarSpec) -> list[dict[str, Any]]:
    # Static secrets named like Istio's SDS resources so clusters reference `default` and `ROOTCA`.
    f = spec.files
    secrets: list[dict[str, Any]] = [
        {
            "name": "default",
            "tls_certificate": {
                "certificate_chain": {"filename": f.cert_chain},
                "private_key": {"filename": f.private_key},
            },
        },
        {"name": "ROOTCA", "validation_context": {"trusted_ca": {"filename": f.root_cert}}},
    ]
    seen = {"default", "ROOTCA"}
    for svc in spec.outbound:
        if svc.ca_cert_path and file_root_secret_name(svc.ca_cert_path) not in seen:
            seen.add(file_root_secret_name(svc.ca_cert_path))
            secrets.append(
                {
                    "name": file_root_secret_name(svc.ca_cert_path),
                    "validation_context": {"trusted_ca": {"filename": svc.ca_cert_path}},
                }
            )
        if svc.tls_mode == "MUTUAL" and svc.client_cert_path and svc.client_key_path:
            name = file_cert_secret_name(svc.client_cert_path, svc.client_key_path)
            if name not in seen:
                seen.add(name)
                secrets.append(
                    {
                        "name": name,
                        "tls_certificate": {
                            "certificate_chain": {"filename": svc.client_cert_path},
                            "private_key": {"filename": svc.client_key_path},
                        },
                    }
                )
    return secrets


def bootstrap(spec: SidecarSpec) -> dict[str, Any]:
    xds = spec.files.xds_dir
    return {
        "node": {
            "id": f"sidecar~{spec.pod_ip}~{spec.pod_name}.{spec.namespace}~{spec.namespace}.svc.{spec.domain}",
            "cluster": f"{spec.pod_name}.{spec.namespace}",
            "metadata": {
                "NAMESPACE": spec.namespace,
                "NAME": spec.pod_name,
                "SERVICE_ACCOUNT": spec.service_account,
                "ISTIO_VERSION": "meshprober-lab",
                **dict(spec.node_metadata),
            },
        },
        # Connections leave from the pod address, as they would from a pod's network namespace.
        "cluster_manager": {
            "upstream_bind_config": {"source_address": {"address": spec.pod_ip, "port_value": 0}}
        },
        "admin": {"address": {"socket_address": {"address": spec.pod_ip, "port_value": spec.admin_port}}},
        "static_resources": {"secrets": _secrets(spec)},
        "dynamic_resources": {
            "cds_config": {"path_config_source": {"path": f"{xds}/{CDS_FILE}"}, "resource_api_version": "V3"},
            "lds_config": {"path_config_source": {"path": f"{xds}/{LDS_FILE}"}, "resource_api_version": "V3"},
        },
    }


def render_sidecar(spec: SidecarSpec, version: str = "1") -> dict[str, dict[str, Any]]:
    """All files of one sidecar: bootstrap, CDS, LDS and one EDS file per outbound cluster."""
    xds = spec.files.xds_dir
    clusters = [outbound_cluster(svc, xds) for svc in spec.outbound]
    clusters += [inbound_cluster(spec, port) for port in spec.inbound]
    if any(svc.hbone for svc in spec.outbound):
        clusters.append(connect_originate_cluster())
    listeners = [outbound_listener(spec)] + [inbound_listener(spec, port) for port in spec.inbound]
    files: dict[str, dict[str, Any]] = {
        BOOTSTRAP_FILE: bootstrap(spec),
        CDS_FILE: _discovery(version, clusters),
        LDS_FILE: _discovery(version, listeners),
    }
    for svc in spec.outbound:
        files[eds_file_name(svc.cluster_name)] = _discovery(version, [outbound_assignment(svc)])
    return files
