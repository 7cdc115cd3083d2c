"""Kubernetes `Status` bodies and the ApiError that carries one; wording follows apimachinery.

Pure; no I/O. Handlers raise ApiError and the server turns it into an HTTP response.
"""

from __future__ import annotations

from typing import Any

from meshlab.apiserver.resources import ResourceType

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


def status_body(
    code: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class ApiError(Exception):
    """An error answered to the client as a Status body with this HTTP code."""

    def __init__(
        self, code: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.body = status_body(code, message, reason, details)


def _details(rt: ResourceType, name: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if rt.group:
        d["group"] = rt.group
    d["kind"] = rt.plural
    return d


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, f'{rt.qualified} "{name}" not found', "NotFound", _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, f'{rt.qualified} "{name}" already exists', "AlreadyExists", _details(rt, name))


def conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        "Conflict",
        _details(rt, name),
    )


def invalid(rt: ResourceType, name: str, field: str, why: str) -> ApiError:
    return ApiError(
        422,
        f'{rt.kind} "{name}" is invalid: {field}: {why}',
        "Invalid",
        {**_details(rt, name), "causes": [{"reason": "FieldValueInvalid", "message": why, "field": field}]},
    )


def forbidden(
    rt: ResourceType, name: str | None, user: str, verb: str, resource: str, namespace: str | None
) -> ApiError:
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    subject = f'{rt.qualified} "{name}"' if name else rt.qualified
    msg = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{rt.group}" {scope}'
    )
    return ApiError(403, msg, "Forbidden", _details(rt, name))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def unknown_path() -> ApiError:
    return ApiError(404, "the server could not find the requested resource", "NotFound", {})


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "BadRequest")
