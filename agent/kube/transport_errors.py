"""Classify failures of the kubernetes client's transport: retry (refused, reset, timeouts, 502-504)
or not (a failed server-certificate check, any other HTTP answer).

Used by `rest` (REST GETs) and `exec_call` (the exec websocket handshake) with `retry.with_retries`.
Reads exception chains only: no I/O, no client construction.
"""

from __future__ import annotations

import ssl

import urllib3
import websocket
from kubernetes.client.exceptions import ApiException

from agent.errors import ClusterError


def tls_verify_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate-verification error somewhere in exc's chain (urllib3 nests it in .reason)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return cur
        reason = getattr(cur, "reason", None)
        todo.extend([cur.__cause__, cur.__context__, reason if isinstance(reason, BaseException) else None])
        todo.extend(a for a in cur.args if isinstance(a, BaseException))
    return None


def is_transient(exc: BaseException) -> bool:
    """Connection refused/reset/timeouts (REST or websocket handshake) and gateway-ish 5xx.

    A failed certificate verification is not transient: retrying cannot fix a wrong CA.
    """
    if tls_verify_failure(exc) is not None:
        return False
    if isinstance(exc, ApiException):
        if exc.status in (502, 503, 504):
            return True
        if exc.status == 0:  # the websocket layer wraps everything as status 0
            ctx = exc.__context__
            return isinstance(ctx, OSError) and not isinstance(ctx, websocket.WebSocketException)
        return False
    return isinstance(exc, urllib3.exceptions.HTTPError | OSError)


def tls_error(exc: BaseException, server: str) -> ClusterError | None:
    """ClusterError for a failed server-certificate check (wrong CA / name), else None."""
    bad = tls_verify_failure(exc)
    if bad is None:
        return None
    # verify_message is set by the ssl module; an error built by other code may lack it.
    detail = getattr(bad, "verify_message", None) or bad
    return ClusterError(
        f"TLS verification of the API server {server} failed ({detail}); check "
        "certificate-authority(-data) in the kubeconfig or the service-account ca.crt"
    )
