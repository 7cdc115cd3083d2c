"""The one target-URL validator, shared by the agent config and the curl argv builder. Pure.

A URL that passes goes into curl's argv unchanged, so it must be a plain http(s) URL: a host name or
IP literal, an optional port, and a path with an optional query string (real query strings, `&`
included). Whole-string matches only: a `$`-anchored `match` would let `"http://h/p\\n"` through.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from agent.errors import InputError

MAX_URL_LEN = 2048
# scheme://netloc/path?query#fragment (RFC 3986 appendix B); no urllib in pure code.
_URL = re.compile(
    r"(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.DOTALL
)
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
# RFC 3986 path/query characters (unreserved, the sub-delims `! & + , =`, ':', '@', '/', '?', '%'). The
# sub-delims a shell treats specially (`$ ' ( ) * ;`) stay out even though argv never meets a shell: a
# URL is also copied into `kubectl exec` commands people paste. `[]{}` (curl's globbing) stay out too.
_PATH_CHARS = re.compile(r"[A-Za-z0-9\-._~!&+,=:@/?%]*")
_PCT_BAD = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class UrlParts:
    scheme: str  # "http" or "https"
    host: str  # as written, IPv6 literals without their brackets
    port: int  # explicit, else the scheme's default
    path: str  # path + "?" + query, "/" when empty


def _check_host(host: str, url: str) -> str:
    if not host:
        raise InputError(f"URL {url!r}: missing host")
    if host.startswith("["):
        if not host.endswith("]"):
            raise InputError(f"URL {url!r}: bad IPv6 literal {host!r}")
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise InputError(f"URL {url!r}: bad IPv6 literal {host!r}") from exc
        return host[1:-1]
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            raise InputError(f"URL {url!r}: bad IPv4 address {host!r}") from exc
        return host
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in name.split(".")):
        raise InputError(f"URL {url!r}: bad host name {host!r}")
    return host


def _netloc(netloc: str, url: str) -> tuple[str, int | None]:
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
    return _check_host(host, url), int(rest[1:]) if rest else None


def check_path(path: str, what: str = "path") -> str:
    """A URL path with optional query (`/a/b?x=1&y=2`); InputError naming `what` otherwise."""
    if not path.startswith("/") or not _PATH_CHARS.fullmatch(path) or _PCT_BAD.search(path):
        raise InputError(
            f"{what} {path!r}: must start with / and use only URL path/query characters "
            "(percent-encode anything else; no spaces, quotes or #)"
        )
    return path


def split_url(url: str) -> UrlParts:
    """Validate `url` (InputError naming the problem) and return its parts."""
    if not isinstance(url, str) or not url:
        raise InputError("URL: empty")
    if len(url) > MAX_URL_LEN:
        raise InputError(f"URL: longer than {MAX_URL_LEN} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InputError(f"URL {url!r}: contains whitespace or control characters")
    parts = _URL.fullmatch(url)
    scheme = (parts.group(1) or "").lower() if parts else ""
    if parts is None or scheme not in ("http", "https"):
        raise InputError(f"URL {url!r}: scheme must be http or https, got {scheme or 'none'!r}")
    host, port = _netloc(parts.group(2) or "", url)
    if "#" in url:
        raise InputError(f"URL {url!r}: fragments (#...) are not sent; remove them")
    tail = (parts.group(3) or "") + ("?" + parts.group(4) if parts.group(4) is not None else "")
    if not _PATH_CHARS.fullmatch(tail) or _PCT_BAD.search(tail):
        raise InputError(f"URL {url!r}: path or query has characters that must be percent-encoded")
    default = 443 if scheme == "https" else 80
    return UrlParts(scheme, host, port or default, tail if tail.startswith("/") else "/" + tail)


def validate_url(url: str) -> str:
    """Return `url` unchanged when it is a safe http(s) URL; raise InputError naming the problem."""
    split_url(url)
    return url
