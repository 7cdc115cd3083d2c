"""JSON/bytes GETs through the generated client with retries and error mapping (the REST seam).

Reads raw bodies (`_preload_content=False`), so JSON is never turned into a Python repr and odd
fields never fail model validation. Transport failures are retried (bounded), then ClusterUnreachable;
HTTP errors become agent.errors via errors_map.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from agent.errors import ClusterError
from agent.kube.errors_map import map_status, parse_status
from agent.kube.retry import with_retries
from agent.kube.transport_errors import is_transient, tls_error

REQUEST_TIMEOUT = (3.0, 30.0)  # (connect, read) seconds for REST calls


class Rest:
    """Calls generated API methods for one server, mapping every failure to agent.errors."""

    def __init__(self, server: str) -> None:
        self.server = server

    def raw(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """Body bytes of `method(*args, **kwargs)`; `what` names the object in error messages."""

        def call() -> bytes:
            resp = method(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
            try:
                return bytes(resp.data)
            finally:
                resp.release_conn()

        try:
            return with_retries(call, transient=is_transient, server=self.server)
        except ApiException as exc:
            raise map_status(parse_status(exc.status or 0, exc.body), what=what, server=self.server) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # not transient: TLS verification failed
            raise (tls_error(exc, self.server) or ClusterError(f"{what}: {exc}")) from exc

    def stream(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The open response of a streaming `method` (follow, watch): headers read, body unread.
        The caller reads it (urllib3 `stream()`) and closes it; opening maps errors as raw() does.
        `_request_timeout` may be passed: for a stream its read part bounds a silent stream."""
        kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
        try:
            return with_retries(
                lambda: method(*args, _preload_content=False, **kwargs),
                transient=is_transient,
                server=self.server,
            )
        except ApiException as exc:
            raise map_status(parse_status(exc.status or 0, exc.body), what=what, server=self.server) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise (tls_error(exc, self.server) or ClusterError(f"{what}: {exc}")) from exc

    def json(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        body = self.raw(what, method, *args, **kwargs)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ClusterError(f"{what}: the API server sent a non-JSON body: {body[:120]!r}") from exc
