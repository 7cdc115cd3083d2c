"""How a probe reaches curl: the probe-container settings and the sidecar-bypass rule (pure, no I/O).

A probe must leave the pod through its sidecar. Istio's iptables rules let traffic of the proxy's own
UID (1337) out unredirected, so curl run as that UID (the `istio-proxy` container, or any container
whose securityContext says runAsUser 1337) skips the sidecar and reports what a sidecar-less client
would see: a false healthy for, e.g., an ISTIO_MUTUAL rule to a server without a sidecar. Such
sources are refused at config load (the container name) and before a probe (the pod's UID).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# istio/istio tools/istio-iptables/pkg/constants/constants.go `DefaultProxyUID = "1337"`, and
# tools/istio-iptables/pkg/capture/run.go `-m owner --uid-owner 1337 -j RETURN` in ISTIO_OUTPUT
# (istio/istio 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c); the names live in agent.istio.mesh.
from agent.istio.mesh import PROXY_UID
from agent.istio.mesh import SIDECAR_CONTAINER as SIDECAR_NAME

PROBE_CONTAINER_NAME = "meshprober-probe"
# A small public curl image, pinned to a version tag; overlays pin it further by digest.
DEFAULT_PROBE_IMAGE = "curlimages/curl:8.11.1"
DEFAULT_PROBE_UID = 65532  # any non-root UID but 1337; 65532 is the conventional "nonroot"

_BYPASS = (
    "its traffic would bypass the sidecar: Istio's iptables rules exclude UID 1337 (the proxy's own "
    "user) from redirection (istio/istio tools/istio-iptables/pkg/capture/run.go, "
    "`-m owner --uid-owner 1337 -j RETURN`), so the probe would test a sidecar-less client and can "
    "report healthy where the app fails; probe from the app container, or use via: ephemeral"
)
# An image reference: [registry/]repo[:tag][@sha256:digest], no spaces or shell characters.
_IMAGE = re.compile(
    r"^[a-z0-9]([-a-z0-9._/:]*[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)


def sidecar_container_error(container: str) -> str | None:
    """Why probing from `container` (by name) gives false results, or None when it is fine."""
    if container == SIDECAR_NAME:
        return f"container {SIDECAR_NAME} cannot be a probe source: {_BYPASS}"
    return None


def proxy_uid_error(namespace: str, pod: str, container: str, uid: int | None) -> str | None:
    """Why a container whose securityContext runs as `uid` cannot be a probe source, or None."""
    if uid == PROXY_UID:
        return (
            f"container {container} of pod {namespace}/{pod} runs as UID {PROXY_UID} "
            f"(securityContext.runAsUser), so {_BYPASS}"
        )
    return None


def _image(value: str) -> str:
    if not _IMAGE.match(value):
        raise ValueError(f"{value!r} is not an image reference like curlimages/curl:8.11.1")
    if ":" not in value.rsplit("/", 1)[-1] and "@" not in value:
        raise ValueError(f"{value!r} has no tag or digest; pin a version (e.g. {DEFAULT_PROBE_IMAGE})")
    return value


def _uid(value: int) -> int:
    if value == PROXY_UID:
        raise ValueError(f"must not be {PROXY_UID}: {_BYPASS}")
    return value


class ProbeContainerConfig(BaseModel):
    """The ephemeral probe container (`via: ephemeral`, or `auto` when the app has no curl).

    `enabled: false` keeps `auto` from ever adding one; with it on, `auto` still adds one only where
    the agent may patch pods/ephemeralcontainers (deploy/components/ephemeral-probes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    image: Annotated[str, AfterValidator(_image)] = DEFAULT_PROBE_IMAGE
    run_as_user: Annotated[int, AfterValidator(_uid), Field(ge=1, le=2147483647)] = DEFAULT_PROBE_UID
    start_timeout: float = Field(default=60.0, gt=0, le=600)  # pulling the image can take a while
