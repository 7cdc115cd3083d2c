"""The one evidence redactor: every file of an evidence bundle passes through here before it is written.

Pure (no I/O). Order matters and is fixed here: redact first, then cut, so a cut can never drop a
`Bearer` prefix and leave the token behind. What goes:
- PEM private keys, and Envoy `inline_bytes`/`inline_string` secret material (public certificates stay);
- credential headers in every form curl and Envoy print them: `> Authorization: ...`, `< set-cookie: ...`,
  curl's HTTP/2 lines `* [HTTP/2] [1] [authorization: Basic ...]`, and `Bearer`/`Basic` values anywhere;
- JWTs anywhere (any header, log line or body);
- secret-looking query parameters (`?access_token=`, `&sig=`, `X-Amz-Signature=` ...);
- JSON string values of secret-looking keys (`password`, `client_secret`, `token`, `SecretAccessKey` ...),
  in text bodies and in structured files (probe.json, diagnosis.json) alike.
Response bodies are cut to their first few KiB: the diagnosis needs the head (a local reply names its
cause there); the rest is the application's data.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
_REDACTED_B64 = "W3JlZGFjdGVkXQ=="  # base64 of "[redacted]", as Envoy itself writes it
MAX_TEXT = 4 * 1024 * 1024  # any evidence text file, after redaction
BODY_KEEP = 4 * 1024  # bytes of a response body kept in curl.stdout

# Kept in step with agent.probe.argv.WRITE_OUT_MARKER (a test checks); not imported so this module
# depends on nothing.
WRITE_OUT_MARKER = "__MESHPROBER_WRITEOUT__"

_CREDENTIAL_HEADERS = (
    r"authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token|"
    r"x-amz-security-token|x-goog-iap-jwt-assertion|x-jwt-assertion|x-csrf-token|x-xsrf-token"
)
_HEADER_WORDS = ("authorization", "cookie", "api-key", "token", "assertion")
_PEM_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END \1-----|$)", re.DOTALL)
# `> Authorization: x`, `< Set-Cookie: x`, `Cookie: x` (request/response lines of curl -v, YAML, logs).
_HEADER_LINE = re.compile(rf"(?im)^([<>]?[ \t]*(?:{_CREDENTIAL_HEADERS})[ \t]*:[ \t]*)[^\r\n]*")
# curl's HTTP/2 and HTTP/3 request lines: `* [HTTP/2] [1] [authorization: Basic dXNlcjpwYXNz]`.
_BRACKET_HEADER = re.compile(rf"(?i)(\[(?:{_CREDENTIAL_HEADERS})[ \t]*:[ \t]*)[^\]\r\n]*(\])")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)([ \t]+)[A-Za-z0-9\-._~+/]+=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# name=value in a query string or form body; the value ends at a separator, quote or whitespace.
_QUERY_PARAM = re.compile(r"([?&;])([A-Za-z0-9_.\-]{1,64})=([^&;\s\"'<>#\\]*)")
# A bare `password=...` (a form body or a log line), no ? or & before it.
_BARE_PARAM = re.compile(r"()\b([A-Za-z0-9_.\-]{1,64})=([^&;\s\"'<>#\\]*)")
_JSON_STRING_FIELD = re.compile(r'("([A-Za-z0-9_.\-]{1,64})"[ \t]*:[ \t]*")((?:[^"\\]|\\.)*)(")')
_INLINE = re.compile(r'("inline_(?:bytes|string)"\s*:\s*")((?:[^"\\]|\\.)*)(")')

# Key names compared lowercased with `_`, `-`, `.` removed: "client_secret", "clientSecret" and
# "SecretAccessKey" all match; "secretName" (a reference, not a secret) does not.
_SECRET_KEY_ENDINGS = (
    "password", "passwd", "secret", "token", "apikey", "secretaccesskey", "privatekey",
    "sessionkey", "credentials", "credential", "authorization", "cookie",
)  # fmt: skip
# Query parameters that carry signatures or keys under short names.
_SECRET_QUERY_NAMES = frozenset(
    {"sig", "signature", "xamzsignature", "xamzcredential", "xgoogsignature", "xgoogcredential",
     "key", "code", "auth", "jwt", "assertion", "pwd", "pass"}
)  # fmt: skip


def _norm(name: str) -> str:
    return re.sub(r"[-_.]", "", name.lower())


def is_secret_key(name: str) -> bool:
    """True for a JSON/YAML key or query parameter name whose value is a secret."""
    n = _norm(name)
    return n.endswith(_SECRET_KEY_ENDINGS)


def _query(m: re.Match[str]) -> str:
    sep, name, value = m.group(1), m.group(2), m.group(3)
    # A bare `word=value` (no ? or & before it) is only a secret when its name says so.
    if value and (is_secret_key(name) or (sep and _norm(name) in _SECRET_QUERY_NAMES)):
        return f"{sep}{name}={REDACTED}"
    return m.group(0)


def _json_field(m: re.Match[str]) -> str:
    if is_secret_key(m.group(2)) and m.group(3):
        return m.group(1) + REDACTED + m.group(4)
    return m.group(0)


def _inline(m: re.Match[str]) -> str:
    value = m.group(2)
    # Public certificates may stay (they prove which CA signed what); anything else goes.
    if "BEGIN CERTIFICATE" in value and "PRIVATE KEY" not in value:
        return m.group(0)
    return m.group(1) + _REDACTED_B64 + m.group(3)


def _has(low: str, words: tuple[str, ...]) -> bool:
    return any(w in low for w in words)


def redact(text: str) -> str:
    """`text` with every secret this module knows replaced by `[redacted]`. Idempotent.

    Each pattern runs only when a cheap substring test says it can match: evidence can hold a
    config dump of many MB, and most of it has no header, JWT or query string at all."""
    low = text.lower()
    text = _PEM_KEY.sub(f"-----{REDACTED} PRIVATE KEY-----", text)
    text = _INLINE.sub(_inline, text)
    if _has(low, _HEADER_WORDS):
        text = _HEADER_LINE.sub(rf"\1{REDACTED}", text)
        text = _BRACKET_HEADER.sub(rf"\1{REDACTED}\2", text)
    if _has(low, ("bearer", "basic")):
        text = _AUTH_SCHEME.sub(rf"\1\2{REDACTED}", text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    text = _JSON_STRING_FIELD.sub(_json_field, text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_query, text)
        if _has(low, _SECRET_KEY_ENDINGS) or _has(low, ("api_key", "api-key", "private_key", "access_key")):
            text = _BARE_PARAM.sub(_query, text)
    return text


def redact_value(value: Any) -> Any:
    """A JSON-shaped value (probe.json, diagnosis.json) with secret keys' scalar values and every
    string redacted. Structure and non-secret values are kept, so the file still parses the same."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            secret = isinstance(k, str) and is_secret_key(k) and isinstance(v, str | int | float) and v != ""
            out[k] = REDACTED if secret and not isinstance(v, bool) else redact_value(v)
        return out
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """`text` cut to `limit` characters with a marker line. Call only on redacted text."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[meshprober: cut at {limit} characters]\n"


def cut_tail(text: str, limit: int) -> str:
    """The last `limit` characters of `text` (logs: the newest lines matter). Call only on redacted text."""
    if limit <= 0:
        return ""
    return text if len(text) <= limit else text[-limit:]


def curl_stdout(text: str, body_keep: int = BODY_KEEP) -> str:
    """curl.stdout (body, newline, marker, write-out JSON): redacted, body cut to its first
    `body_keep` characters, the write-out kept whole (the diagnosis reads it)."""
    text = redact(text)
    body, marker, writeout = text.rpartition("\n" + WRITE_OUT_MARKER)
    if not marker:
        return cut(text, body_keep)
    if len(body) > body_keep:
        body = body[:body_keep] + f"\n[meshprober: response body cut at {body_keep} characters]"
    return cut(body + marker + writeout)


def evidence_text(text: str, limit: int = MAX_TEXT) -> str:
    """Any other evidence text file: redacted, then cut."""
    return cut(redact(text), limit)
