"""Build the curl argv of one probe, after validating every piece of user input.

Pure: returns a list for exec (never a shell string) and does no I/O. The argv shape is a
contract shared with the capture harness: stdout = body, newline, WRITE_OUT_MARKER, curl's
`%{json}` write-out (curl >= 7.70).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping

from agent.errors import InputError

WRITE_OUT_MARKER = "__MESHPROBER_WRITEOUT__"
WRITE_OUT_FORMAT = "\n" + WRITE_OUT_MARKER + "%{json}"
MAX_TIMEOUT_S = 3600.0

# scheme://netloc/path?query#fragment (RFC 3986 appendix B); no urllib in pure code.
_URL = re.compile(
    r"^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.DOTALL
)
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
# RFC 3986 path/query characters (unreserved, sub-delims, ':', '@', '/', '?', '%').
_PATH_CHARS = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$")
_PCT_BAD = re.compile(r"%(?![0-9A-Fa-f]{2})")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")
_HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_host(host: str, url: str) -> None:
    if not host:
        raise InputError(f"URL {url!r}: missing host")
    if host.startswith("["):
        if not host.endswith("]"):
            raise InputError(f"URL {url!r}: bad IPv6 literal {host!r}")
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise InputError(f"URL {url!r}: bad IPv6 literal {host!r}") from exc
        return
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            raise InputError(f"URL {url!r}: bad IPv4 address {host!r}") from exc
        return
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        raise InputError(f"URL {url!r}: bad host name {host!r}")


def _netloc_host(netloc: str, url: str) -> str:
    if "@" in netloc:
        # Credentials in a URL would end up in logs and bundles.
        raise InputError(f"URL {url!r}: user info (user:password@) is not allowed")
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = (netloc[: end + 1], netloc[end + 1 :]) if end >= 0 else (netloc, "")
    else:
        host, sep, port = netloc.partition(":")
        rest = sep + port
    if rest and (not re.fullmatch(r":[0-9]{1,5}", rest) or not 1 <= int(rest[1:]) <= 65535):
        raise InputError(f"URL {url!r}: port must be a number in 1-65535, got {rest[1:]!r}")
    return host


def validate_url(url: str) -> str:
    """Return `url` unchanged when it is a safe http(s) URL; raise InputError naming the problem."""
    if not isinstance(url, str) or not url:
        raise InputError("URL: empty")
    if len(url) > 2048:
        raise InputError("URL: longer than 2048 characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InputError(f"URL {url!r}: contains whitespace or control characters")
    parts = _URL.match(url)
    scheme = (parts.group(1) or "").lower() if parts else ""
    if parts is None or scheme not in ("http", "https"):
        raise InputError(f"URL {url!r}: scheme must be http or https, got {scheme or 'none'!r}")
    _check_host(_netloc_host(parts.group(2) or "", url), url)
    if "#" in url:
        raise InputError(f"URL {url!r}: fragments (#...) are not sent; remove them")
    tail = (parts.group(3) or "") + ("?" + parts.group(4) if parts.group(4) is not None else "")
    if not _PATH_CHARS.match(tail) or _PCT_BAD.search(tail):
        raise InputError(f"URL {url!r}: path or query has characters that must be percent-encoded")
    return url


def _format_timeout(timeout_s: float) -> str:
    if not isinstance(timeout_s, int | float) or not math.isfinite(timeout_s):
        raise InputError(f"timeout: must be a finite number of seconds, got {timeout_s!r}")
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise InputError(f"timeout: must be in (0, {MAX_TIMEOUT_S:g}] seconds, got {timeout_s!r}")
    return f"{float(timeout_s):g}"


def build_curl_argv(
    url: str,
    *,
    request_id: str,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
) -> list[str]:
    """The probe's curl argv (see module docstring); every input is validated first."""
    validate_url(url)
    if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
        raise InputError(f"request id {request_id!r}: use 1-128 characters of [A-Za-z0-9._:-]")
    argv = ["curl", "-sS", "-v", "--max-time", _format_timeout(timeout_s)]
    argv += ["-H", f"x-request-id: {request_id}"]
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise InputError(f"header name {name!r}: not a valid HTTP token")
        if name.lower() == "x-request-id":
            raise InputError("header x-request-id: set by meshprober, do not pass it")
        if not isinstance(value, str) or _HEADER_VALUE_BAD.search(value) or len(value) > 4096:
            raise InputError(f"header {name}: value has control characters or is too long")
        argv += ["-H", f"{name}: {value}"]
    argv += ["-w", WRITE_OUT_FORMAT, url]
    return argv
