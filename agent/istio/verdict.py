"""Does a client TLS mode work against a server mode? The reachability matrix and its symptom.

Server STRICT needs ISTIO_MUTUAL; PERMISSIVE accepts ISTIO_MUTUAL or plaintext; DISABLE or no
sidecar needs plaintext (an app behind no sidecar may terminate SIMPLE/MUTUAL TLS itself);
SIMPLE/MUTUAL to a sidecar fails. Pure: no I/O.
"""

from __future__ import annotations

UC = (
    "503 UC: upstream connect error or disconnect/reset before headers. "
    "reset reason: connection termination (plaintext to a STRICT sidecar)"
)
UF_TLS = (
    "503 UF,URX: upstream connect error or disconnect/reset before headers. reset reason: "
    "connection failure, TLS error (mTLS to a server that only speaks plaintext)"
)
UF_HANDSHAKE = "503 UF: TLS handshake failure (non-Istio TLS to an Istio sidecar)"
NAKED_RESET = (
    "connection reset by peer (curl 56): a client without a sidecar sends plaintext to a STRICT sidecar"
)


def evaluate(client_mode: str, server_mode: str, client_has_sidecar: bool = True) -> tuple[bool, str | None]:
    """(works, expected symptom when it does not)."""
    if server_mode == "STRICT":
        if client_mode == "ISTIO_MUTUAL":
            return True, None
        if client_mode == "DISABLE":
            return False, UC if client_has_sidecar else NAKED_RESET
        return False, UF_HANDSHAKE
    if server_mode == "PERMISSIVE":
        if client_mode in ("ISTIO_MUTUAL", "DISABLE"):
            return True, None
        return False, UF_HANDSHAKE
    if server_mode == "DISABLE":
        if client_mode == "DISABLE":
            return True, None
        return False, UF_TLS if client_mode == "ISTIO_MUTUAL" else UF_HANDSHAKE
    # NONE: no sidecar on the server
    if client_mode == "ISTIO_MUTUAL":
        return False, UF_TLS
    return True, None
