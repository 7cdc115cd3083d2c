"""Build the curl argv of one probe, after validating every piece of user input.

Pure: returns a list for exec (never a shell string) and does no I/O. The argv shape is a
contract shared with the capture harness: stdout = body, newline, WRITE_OUT_MARKER, curl's
`%{json}` write-out (curl >= 7.70).

`build_curl_pair_argv` makes the probe and its confirming probe two transfers of one curl run
(`--next` starts the second transfer with its own options and request id), so a user waiting on one
diagnosis pays one exec round trip instead of two. Each transfer's write-out ends by switching to
stderr (`%{stderr}`, curl >= 7.63) and printing TRANSFER_END_MARKER there, after that transfer's `-v`
trace and error line, so agent.probe.transfers can cut both streams per transfer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from agent.errors import InputError
from agent.probe.url import validate_url

__all__ = [
    "MAX_FILESIZE",
    "TRANSFER_END_MARKER",
    "WRITE_OUT_FORMAT",
    "WRITE_OUT_MARKER",
    "build_curl_argv",
    "build_curl_pair_argv",
    "validate_url",
]

WRITE_OUT_MARKER = "__MESHPROBER_WRITEOUT__"
WRITE_OUT_FORMAT = "\n" + WRITE_OUT_MARKER + "%{json}"
TRANSFER_END_MARKER = "__MESHPROBER_TRANSFER_END__"
PAIR_WRITE_OUT_FORMAT = WRITE_OUT_FORMAT + "%{stderr}" + TRANSFER_END_MARKER + "\n"
MAX_TIMEOUT_S = 3600.0
# curl stops (exit 63) when a response says it is bigger than this; the evidence keeps only its head.
MAX_FILESIZE = 4 * 1024 * 1024

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")
_HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


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
    # -q first (curl only honours it there): the source container's own .curlrc must not change the
    # probe.
    return ["curl", "-q", *_transfer(url, request_id, timeout_s, headers, WRITE_OUT_FORMAT)]


def build_curl_pair_argv(
    url: str,
    *,
    request_ids: tuple[str, str],
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
) -> list[str]:
    """Two transfers of `url` in one curl run, each with its own request id (module docstring)."""
    first, second = request_ids
    if first == second:
        raise InputError("the two transfers need different request ids")
    return [
        "curl",
        "-q",
        *_transfer(url, first, timeout_s, headers, PAIR_WRITE_OUT_FORMAT),
        "--next",  # per-transfer options are reset here, so the second repeats all of them
        *_transfer(url, second, timeout_s, headers, PAIR_WRITE_OUT_FORMAT),
    ]


def _transfer(
    url: str, request_id: str, timeout_s: float, headers: Mapping[str, str] | None, write_out: str
) -> list[str]:
    """One transfer's options and URL. --noproxy '*': an HTTP(S)_PROXY in the container must not
    reroute it. --proto: http(s) only, redirects included. --globoff: [] and {} in a URL are literal.
    --max-filesize: bounded."""
    validate_url(url)
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise InputError(f"request id {request_id!r}: use 1-128 characters of [A-Za-z0-9._:-]")
    argv = ["-sS", "-v", "--noproxy", "*", "--proto", "=http,https", "--globoff"]
    argv += ["--max-filesize", str(MAX_FILESIZE), "--max-time", _format_timeout(timeout_s)]
    argv += ["-H", f"x-request-id: {request_id}"]
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InputError(f"header name {name!r}: not a valid HTTP token")
        if name.lower() == "x-request-id":
            raise InputError("header x-request-id: set by meshprober, do not pass it")
        if not isinstance(value, str) or _HEADER_VALUE_BAD.search(value) or len(value) > 4096:
            raise InputError(f"header {name}: value has control characters or is too long")
        argv += ["-H", f"{name}: {value}"]
    argv += ["-w", write_out, url]
    return argv
