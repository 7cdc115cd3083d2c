"""Write an evidence bundle directory: bounded sizes, secrets redacted, diagnosis.json last.

File I/O only. A bundle never holds secrets: PEM private keys, bearer tokens / Authorization
headers and the `inline_bytes`/`inline_string` of Envoy secrets are replaced before anything is
written. Text files longer than their bound are cut (with a marker line); a config dump that is
too large is left out rather than cut (a cut JSON dump would be unreadable).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.bundle.format import (
    CURL_EXIT,
    CURL_STDERR,
    CURL_STDOUT,
    DIAGNOSIS,
    DUMP,
    MAX_DUMP,
    MAX_TEXT,
    OPTIONAL_TEXT,
    PROBE,
)
from agent.errors import InputError
from agent.model import Diagnosis

REDACTED = "[redacted]"
_REDACTED_B64 = "W3JlZGFjdGVkXQ=="  # base64 of "[redacted]", as Envoy itself writes it

_PEM_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END \1-----|$)", re.DOTALL)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*")
_AUTH_HEADER = re.compile(r"(?im)^([<>]?\s*(?:authorization|proxy-authorization|cookie|x-api-key)\s*:\s*).*$")
_INLINE = re.compile(r'("inline_(?:bytes|string)"\s*:\s*")((?:[^"\\]|\\.)*)(")')
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def redact(text: str) -> str:
    """Remove private keys, tokens and inline secret material from any evidence text."""
    text = _PEM_KEY.sub(f"-----{REDACTED} PRIVATE KEY-----", text)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    text = _AUTH_HEADER.sub(rf"\1{REDACTED}", text)

    def inline(m: re.Match[str]) -> str:
        value = m.group(2)
        # Public certificates may stay (they prove which CA signed what); anything else goes.
        if "BEGIN CERTIFICATE" in value and "PRIVATE KEY" not in value:
            return m.group(0)
        return m.group(1) + _REDACTED_B64 + m.group(3)

    return _INLINE.sub(inline, text)


def _bounded(text: str) -> str:
    limit = MAX_TEXT
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[meshprober: cut at {limit} characters]\n"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # readers never see half a file


def write_bundle(
    path: str | Path,
    *,
    probe: Mapping[str, Any],
    curl_stdout: str,
    curl_stderr: str,
    curl_exit: int | None,
    optional: Mapping[str, str] | None = None,
    resources: Mapping[str, str] | None = None,
    diagnosis: Diagnosis | None = None,
) -> Path:
    """Write a bundle directory; `optional` maps DESIGN.md file names (e.g. "client-access.log") to text,
    `resources` maps file names under resources/ to YAML text. Returns the directory."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    _write(root / PROBE, json.dumps(dict(probe), indent=2, sort_keys=True) + "\n")
    _write(root / CURL_STDOUT, _bounded(redact(curl_stdout)))
    _write(root / CURL_STDERR, _bounded(redact(curl_stderr)))
    _write(root / CURL_EXIT, "" if curl_exit is None else f"{curl_exit}\n")
    for name, text in (optional or {}).items():
        if name == DUMP:
            if len(text) <= MAX_DUMP:
                _write(root / name, redact(text))
            continue
        if name not in OPTIONAL_TEXT:
            raise InputError(f"write_bundle: unknown bundle file name {name!r}")
        _write(root / name, _bounded(redact(text)))
    if resources:
        (root / "resources").mkdir(exist_ok=True)
        for name, text in resources.items():
            if not _NAME_OK.match(name) or not name.endswith((".yaml", ".yml")):
                raise InputError(f"write_bundle: resource file name {name!r} must be a plain *.yaml name")
            _write(root / "resources" / name, _bounded(redact(text)))
    if diagnosis is not None:
        _write(root / DIAGNOSIS, json.dumps(diagnosis.to_json(), indent=2) + "\n")
    return root
