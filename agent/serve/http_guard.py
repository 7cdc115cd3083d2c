"""The HTTP layer's guards for the agent's listeners (aiohttp middlewares and body parsing).

- Host header checked against the listener's address and configured names (DNS rebinding);
- bearer token (when one is configured): what a browser opens (/, /paths/NAME, the bundle's files and
  .tar.gz) needs it from any peer off loopback (a `kubectl port-forward` arrives on loopback, so a
  browser works); the JSON API, /probe and any other route always need it; only /metrics, /healthz,
  /readyz and /static/* are open;
- security headers on every response (nosniff), and a CSP with frame-ancestors on HTML;
- JSON bodies: `application/json` only (415 otherwise: a cross-site `text/plain` POST needs no
  CORS preflight), a charset that is UTF-8, bounded nesting: bad input is a 400, never a 500.
The token is compared in constant time and never logged or echoed.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agent.serve.access import HostCheck, is_loopback

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
OPEN_PREFIXES = ("/static/",)  # the pages' CSS and script: no probe data
# What a browser opens (it cannot send a bearer header): the overview, the path pages and the bundle's
# files and download they link to. Open to loopback peers only (a `kubectl port-forward` arrives there);
# a rebinding page cannot read them (Host check) and a cross-site page cannot read a GET's answer.
_BROWSER_ROUTE = re.compile(r"/|/paths/[^/]+|/api/v1/paths/[^/]+/(bundle\.tar\.gz|evidence/.+)")
MAX_JSON_DEPTH = 16
# The status pages load only their own /static CSS and script: no inline script, no other origin, no
# framing (clickjacking).
PAGE_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class BadBody(ValueError):
    """A request body that is not what the endpoint takes; `status` is the HTTP code to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _bearer_ok(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    )


def needs_token(path: str, peer: str | None) -> bool:
    """Whether a request for `path` from `peer` must carry the bearer token (when one is configured)."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return False
    if _BROWSER_ROUTE.fullmatch(path):
        return not is_loopback(peer)  # the status pages: open only to loopback peers (port-forward)
    return True  # the JSON API, /probe, and anything not named above (a safe default for new routes)


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    return response


def guard(host_check: HostCheck, token: Callable[[], str | None]) -> Any:
    """The middleware for one listener."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not host_check.allows(host):
            return _secured(error(421, host_check.refusal(host)))
        secret = token()
        if (
            secret is not None
            and needs_token(request.path, request.remote)
            and not _bearer_ok(request, secret)
        ):
            return _secured(error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"}))
        try:
            return _secured(await handler(request))
        except web.HTTPException as exc:  # aiohttp's own 404/405/413: raised, with the headers too
            _secured(exc)
            raise

    return middleware


def _depth_over(text: str, limit: int) -> bool:
    """True when JSON `text` nests arrays/objects deeper than `limit` (strings skipped)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


async def json_body(request: web.Request) -> Any:
    """The request's JSON body; BadBody (415 or 400) naming what is wrong."""
    if request.content_type != "application/json":
        raise BadBody(
            415, f"request body: Content-Type must be application/json, got {request.content_type!r}"
        )
    charset = (request.charset or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise BadBody(400, f"request body: charset {charset!r} is not supported; send UTF-8")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody(400, "request body: not valid UTF-8") from None
    if _depth_over(text, MAX_JSON_DEPTH):
        raise BadBody(400, f"request body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadBody(400, "request body: must be JSON") from None
