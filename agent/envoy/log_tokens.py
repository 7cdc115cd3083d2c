"""Low-level helpers of the access-log parser: the quote-aware tokenizer and TLS-reason clean-up.

Pure string handling, no I/O, never raises on any str input.
"""

from __future__ import annotations

import re

# `upstream_reset_before_response_started{connection_termination}` / `{remote_connection_failure|TLS_error:...}`
_DETAIL_BRACES = re.compile(r"\{(.*)\}", re.DOTALL)
# The end of %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" then %RESPONSE_CODE% and a
# flags-shaped token: `HTTP/1.1" 404 NR` (HTTP) or `- - -" 0 NR` (TCP).
_REQUEST_END = re.compile(r'(?:HTTP/\d(?:\.\d)?|-)" \d{1,3} (?:-|[A-Z]{1,6}(?:,[A-Z]{1,6})*)(?: |$)')
# What is left of "[%START_TIME%] " when a paste cut into it: `07T21:54:37.175Z] ` or `] `.
_TIME_REMNANT = re.compile(r"^[^\s\[\]\"]*\] ")


def restore_lost_quote(line: str) -> str:
    """A line whose paste lost its opening `"` (and maybe part of `[START_TIME]` and the method)
    gets its quote back: `PUT /x HTTP/1.1" 404 NR ...` -> `"PUT /x HTTP/1.1" 404 NR ...`.

    Only when no quote comes before the request's closing `HTTP/x" CODE FLAGS`, so an intact
    line is returned unchanged."""
    m = _REQUEST_END.search(line)
    if m is None or '"' in line[: m.start()]:
        return line
    head = _TIME_REMNANT.sub("", line[: m.start()], count=1)
    if not head.strip() and not line[m.start() :].startswith("-"):
        return line
    return f'"{head.lstrip()}{line[m.start() :]}'


def tokenize(line: str) -> list[tuple[str, bool]]:
    """Split on spaces, keeping "quoted" and [bracketed] fields whole; (text, was_quoted) pairs.

    A quote closes only when followed by a space or the end, because Envoy does not escape
    quotes inside header values (a User-Agent may contain `"`).
    """
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] == " ":
            i += 1
            continue
        if line[i] == '"':
            j = i + 1
            while True:
                j = line.find('"', j)
                if j < 0 or j + 1 >= n or line[j + 1] == " ":
                    break
                j += 1
            end = n if j < 0 else j
            tokens.append((line[i + 1 : end], True))
            i = end + 1
        elif line[i] == "[":
            j = line.find("]", i)
            end = n if j < 0 else j + 1
            tokens.append((line[i:end], False))
            i = end
        else:
            j = line.find(" ", i)
            end = n if j < 0 else j
            tokens.append((line[i:end], False))
            i = end
    return tokens


def readable_reason(text: str | None) -> str | None:
    """Undo newer Envoy's `_`-for-space and `|` joins: "TLS_error:|268435581:SSL_routines:..." ->
    "TLS error: 268435581:SSL routines:...". Error identifiers (CERTIFICATE_VERIFY_FAILED,
    OPENSSL_internal) keep their underscores. Text that already has spaces is returned as is."""
    if text is None:
        return None
    text = text.strip()
    if not text or text == "-":
        return None
    if " " in text:
        return text
    text = text.replace(":TLS_error_end", "").replace("|TLS_error_end", "").replace("TLS_error_end", "")
    text = re.sub(r"TLS_error:[|_]?", "TLS error: ", text).replace(":_", ": ")
    parts = []
    for field in text.replace("|", " ").split(":"):
        if field != "OPENSSL_internal" and re.search(r"[a-z]", field):
            field = field.replace("_", " ")
        parts.append(field)
    return " ".join(":".join(parts).split()) or None


def split_details(details: str | None) -> tuple[str, str, str] | None:
    """`upstream_reset_before_response_started{remote_connection_failure|TLS_error:...}` ->
    ("upstream_reset_before_response_started", "remote_connection_failure", "TLS_error:..."), as logged;
    the last is "" when the braces hold only a reset reason. None when there are no braces."""
    if not details:
        return None
    m = _DETAIL_BRACES.search(details)
    if not m:
        return None
    inner = m.group(1)
    # Newer Envoy joins with "|", older with "," (`{connection_failure,TLS_error:_...}`).
    sep = "|" if "|" in inner else ","
    reason, _, failure = inner.partition(sep)
    return details[: m.start()], reason, failure


def reason_from_details(details: str | None) -> str | None:
    """`upstream_reset_before_response_started{remote_connection_failure|TLS_error:...}` -> the TLS part."""
    parts = split_details(details)
    return readable_reason(parts[2]) if parts else None
