"""Sidecar config translator (a miniature istiod): decided facts in, Envoy bootstrap + xDS JSON out.

Pure: no file, network or process I/O; the lab writes the returned documents to disk.
"""

from meshlab.sidecar.render import render_sidecar
from meshlab.sidecar.spec import (
    Endpoint,
    InboundPort,
    OutboundService,
    SidecarFiles,
    SidecarSpec,
    TrafficPolicy,
)

__all__ = [
    "Endpoint",
    "InboundPort",
    "OutboundService",
    "SidecarFiles",
    "SidecarSpec",
    "TrafficPolicy",
    "render_sidecar",
]
