"""Istio's fixed names and the one definition of "this pod runs a sidecar". Pure, no I/O.

Sources: the injection template names the proxy container `istio-proxy` and labels injected pods
`security.istio.io/tlsMode: istio` (istio/istio manifests/charts/istio-control/istio-discovery/files/
injection-template.yaml); native sidecars (Kubernetes >= 1.28 with ENABLE_NATIVE_SIDECARS, the default
from Istio 1.27 on Kubernetes 1.33+) put the same container in `initContainers` with
`restartPolicy: Always`; the proxy runs as UID 1337, which the iptables rules exclude from redirection
(tools/istio-iptables/pkg/cmd/root.go: `--proxy-uid`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SIDECAR_CONTAINER = "istio-proxy"
PROXY_UID = 1337
TLS_MODE_LABEL = "security.istio.io/tlsMode"
REVISION_LABEL = "istio.io/rev"
SIDECAR_STATUS_ANNOTATION = "sidecar.istio.io/status"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
DEFAULT_ISTIO_NAMESPACE = "istio-system"
DEFAULT_ROOT_NAMESPACE = "istio-system"
MESH_CONFIGMAP = "istio"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"


def _named(items: Any, *, native_only: bool) -> list[str]:
    if not isinstance(items, list):
        return []
    return [
        str(c.get("name"))
        for c in items
        if isinstance(c, Mapping)
        and c.get("name")
        and (not native_only or c.get("restartPolicy") == "Always")
    ]


def running_containers(spec: Any) -> tuple[str, ...]:
    """The containers that run alongside the app: `containers` plus native sidecars (init containers
    with restartPolicy Always). A plain init container has exited before the app starts."""
    if not isinstance(spec, Mapping):
        return ()
    return (
        *_named(spec.get("containers"), native_only=False),
        *_named(spec.get("initContainers"), native_only=True),
    )


def runs_proxy(spec: Any) -> bool:
    """True when a pod spec runs istio-proxy. Tolerant: a malformed spec counts as no proxy."""
    return SIDECAR_CONTAINER in running_containers(spec)


def is_mesh_sidecar(containers: tuple[str, ...] | list[str], labels: Mapping[str, str]) -> bool:
    """A pod whose sidecar takes part in mTLS: it runs istio-proxy and Istio labelled it tlsMode istio
    (a proxy without the label, e.g. a gateway, does not originate or accept mesh mTLS as a sidecar)."""
    return SIDECAR_CONTAINER in containers and labels.get(TLS_MODE_LABEL) == "istio"


def _domain_arg(args: Any) -> str | None:
    """The cluster domain in a sidecar's `--domain $(POD_NAMESPACE).svc.<domain>` argument."""
    if not isinstance(args, list):
        return None
    words = [str(a) for a in args]
    for i, word in enumerate(words):
        value = words[i + 1] if word == "--domain" and i + 1 < len(words) else None
        if word.startswith("--domain="):
            value = word.split("=", 1)[1]
        if value and ".svc." in value:
            return value.split(".svc.", 1)[1].strip(".").lower() or None
    return None


def cluster_domain_of(objects: Any) -> str | None:
    """The cluster domain the injected sidecars were given, from the pods among `objects`.

    Istio's injection template starts istio-proxy with `--domain $(POD_NAMESPACE).svc.<clusterDomain>`
    (istio/istio manifests/charts/istio-control/istio-discovery/files/injection-template.yaml), so a
    sidecar's own arguments say which domain its Services live under. The most common value wins;
    None when no pod says."""
    seen: dict[str, int] = {}
    for obj in objects if isinstance(objects, list | tuple) else []:
        if not isinstance(obj, Mapping) or obj.get("kind") != "Pod":
            continue
        spec = obj.get("spec")
        if not isinstance(spec, Mapping):
            continue
        for key in ("containers", "initContainers"):
            items = spec.get(key)
            for c in items if isinstance(items, list) else []:
                if isinstance(c, Mapping) and c.get("name") == SIDECAR_CONTAINER:
                    domain = _domain_arg(c.get("args"))
                    if domain:
                        seen[domain] = seen.get(domain, 0) + 1
    return max(sorted(seen), key=lambda d: seen[d]) if seen else None


DEFAULT_FILE_FLUSH_S = 1.0  # ProxyConfig.fileFlushInterval's default (istio/istio pkg/envoy/proxy.go)


def file_flush_interval(mesh: Mapping[str, Any] | None) -> float:
    """meshConfig.defaultConfig.fileFlushInterval in seconds (a protobuf duration such as "0.1s" or
    "5s"), which pilot-agent passes to Envoy as --file-flush-interval-msec; else Istio's 1 s."""
    text = str(((mesh or {}).get("defaultConfig") or {}).get("fileFlushInterval") or "")
    try:
        return float(text[:-1]) if text.endswith("s") and not text.endswith("ms") else DEFAULT_FILE_FLUSH_S
    except ValueError:
        return DEFAULT_FILE_FLUSH_S
