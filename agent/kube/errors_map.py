"""Map Kubernetes API failures (HTTP status + Status body) onto agent.errors with actionable messages.

Pure: takes the status code and body text the client handed us; imports no kubernetes, does no I/O.
Both REST errors (`ApiException.status/.body`) and exec handshake errors (`Handshake status 403 ...`
wrapped in `ApiException(status=0)`) end up in `map_status`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent.errors import (
    ClusterError,
    ClusterUnreachable,
    ContainerNotFound,
    Forbidden,
    NotFound,
    PodNotReady,
    Unauthorized,
)

# `... User "system:serviceaccount:probe:agent" cannot get resource "pods/exec" in API group ""
#  in the namespace "bookinfo"` (or `at the cluster scope`): apiserver's forbiddenMessage.
_FORBIDDEN_RE = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)"'
    r' in API group "(?P<group>[^"]*)"'
    r'(?: in the namespace "(?P<ns>[^"]+)"| (?P<cluster>at the cluster scope))?'
)
_HANDSHAKE_RE = re.compile(r"Handshake status (\d{3})")
_CONTAINER_INVALID_RE = re.compile(r"container (\S+) is not valid for pod (\S+)")
_CONTAINER_REQUIRED_RE = re.compile(r"a container name must be specified for pod (\S+)")


@dataclass(frozen=True)
class ApiStatus:
    """The parts of a metav1.Status body we act on."""

    code: int
    reason: str = ""
    message: str = ""


def parse_status(code: int, body: str | bytes | None) -> ApiStatus:
    """Read a Status JSON body; a non-JSON body becomes the message verbatim (trimmed)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = (body or "").strip()
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        return ApiStatus(code=code, message=text[:300])
    if not isinstance(doc, dict):
        return ApiStatus(code=code, message=text[:300])
    return ApiStatus(
        code=int(doc.get("code") or code),
        reason=str(doc.get("reason") or ""),
        message=str(doc.get("message") or ""),
    )


def handshake_status(reason: str | None) -> tuple[int, str] | None:
    """Status code and Status body from the client's `Handshake status 403 Forbidden -+-+- ... -+-+- {..}`."""
    match = _HANDSHAKE_RE.search(reason or "")
    if not match:
        return None
    parts = (reason or "").split(" -+-+- ")
    body = parts[-1] if len(parts) >= 3 else ""
    return int(match.group(1)), body


def forbidden_message(message: str) -> str:
    """Turn the apiserver's 403 message into 'X lacks permission to VERB RESOURCE in namespace NS'."""
    match = _FORBIDDEN_RE.search(message)
    if not match:
        return f"forbidden by RBAC: {message or 'no details from the API server'}"
    group = match.group("group")
    resource = match.group("resource") + (f".{group}" if group else "")
    where = f'in namespace "{match.group("ns")}"' if match.group("ns") else "at cluster scope"
    verb = match.group("verb")
    return (
        f'{match.group("user")} lacks permission to {verb} "{resource}" {where}; '
        f"grant it with a Role/ClusterRole rule (verbs: [{verb}], resources: [{match.group('resource')}]"
        f"{', apiGroups: [' + group + ']' if group else ''}) bound to that identity"
    )


def map_status(status: ApiStatus, *, what: str, server: str = "") -> ClusterError:
    """Build our exception for a failed call on `what` (e.g. 'pod bookinfo/x')."""
    code, message = status.code, status.message
    if code == 401:
        return Unauthorized(
            f"the API server {server or ''} rejected our credentials (401 Unauthorized) for {what}; "
            "check the kubeconfig user / service-account token".replace("  ", " ")
        )
    if code == 403:
        return Forbidden(f"{what}: {forbidden_message(message)}")
    if code == 404:
        return NotFound(f"{what} not found" + (f" ({message})" if "could not find" in message else ""))
    if code == 400 and (_CONTAINER_INVALID_RE.search(message) or _CONTAINER_REQUIRED_RE.search(message)):
        return ContainerNotFound(f"{what}: {message}")
    if code == 400 and ("host assigned" in message or "waiting to start" in message):
        return PodNotReady(f"{what}: {message}")
    if code in (502, 503, 504):
        return ClusterUnreachable(f"the API server {server} answered {code} for {what}: {message}")
    return ClusterError(f"{what}: API server answered {code} {status.reason}: {message}".rstrip(": "))
