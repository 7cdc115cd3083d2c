"""Cross-check: a connection failure at the server pod when that pod's istio-proxy was in trouble.

Pure, no I/O. With the server's sidecar dead, not ready or restarting, nothing behind the pod's
inbound capture accepts the connection: the client sees a refusal or a reset exactly as if the app
did not listen. Before the finding blames the app, the destination pods' istio-proxy status (from
the pod status the kubelet reports, `agent.istio.sidecar_health.trouble`) is checked; when it is in
trouble, the summary and the fix name that pod's istio-proxy instead. The verdict keeps its name
(it says what the client saw); confidence is unchanged.
"""

from __future__ import annotations

from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.signals import Signals
from agent.model import Verdict

# Findings a dead or restarting server sidecar produces on the client side.
BLAMES_UPSTREAM = frozenset(
    {
        Verdict.UPSTREAM_CONNECTION_REFUSED,
        Verdict.UPSTREAM_CONNECT_TIMEOUT,
        Verdict.UPSTREAM_RESET,
        Verdict.UPSTREAM_PROTOCOL_ERROR,
        Verdict.TLS_HANDSHAKE_FAILED,
        Verdict.NO_HEALTHY_UPSTREAM,
    }
)


def applies(inp: DiagnoseInput, verdict: Verdict) -> bool:
    return bool(inp.server_sidecar_trouble) and verdict in BLAMES_UPSTREAM


def remedy_text(inp: DiagnoseInput) -> str:
    """The fix names the pod's istio-proxy, with the commands that show why it stopped."""
    pod, what = inp.server_sidecar_trouble[0]
    namespace, name = pod.split("/", 1)
    return (
        f"Fix the istio-proxy sidecar of pod {pod} ({what}); the application is not at fault. "
        f"See why it stopped: `kubectl -n {namespace} logs {name} -c istio-proxy --previous` and "
        f"`kubectl -n {namespace} describe pod {name}` (OOMKilled: raise the proxy's memory limit via "
        "the sidecar.istio.io/proxyMemoryLimit annotation; failing readiness: check its connection to istiod)."
    )


def apply(inp: DiagnoseInput, sig: Signals, f: Finding) -> Finding:
    if not applies(inp, f.verdict):
        return f
    lines = [f"server pod {pod} istio-proxy: {what}" for pod, what in inp.server_sidecar_trouble]
    pod, what = inp.server_sidecar_trouble[0]
    summary = (
        f"The istio-proxy sidecar of server pod {pod} is {what}: with it down, nothing accepts the "
        "connection on the pod, so the failure is the sidecar's, not the app's."
    )
    return f.but(summary=summary, add=lines, hedged=False)
