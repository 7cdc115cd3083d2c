"""Write an evidence bundle directory: bounded sizes, secrets redacted, diagnosis.json last.

File I/O only. A bundle never holds secrets: every file, probe.json and diagnosis.json included,
passes through the one redactor (agent.redaction) before it is written, and is cut only after it was
redacted. Text files longer than their bound are cut (with a marker line); a config dump that is
too large is left out rather than cut (a cut JSON dump would be unreadable).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent import redaction
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
from agent.redaction import REDACTED, redact

__all__ = ["MAX_DUMP", "REDACTED", "redact", "write_bundle"]

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


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
    max_text: int = MAX_TEXT,
) -> Path:
    """Write a bundle directory; `optional` maps DESIGN.md file names (e.g. "client-access.log") to text,
    `resources` maps file names under resources/ to YAML text. Every file goes through agent.redaction
    (redacted, then cut to `max_text`), probe.json and diagnosis.json included. Returns the directory."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    _write(root / PROBE, json.dumps(redaction.redact_value(dict(probe)), indent=2, sort_keys=True) + "\n")
    _write(root / CURL_STDOUT, redaction.curl_stdout(curl_stdout))
    _write(root / CURL_STDERR, redaction.evidence_text(curl_stderr, max_text))
    _write(root / CURL_EXIT, "" if curl_exit is None else f"{curl_exit}\n")
    for name, text in (optional or {}).items():
        if name == DUMP:
            if len(text) <= MAX_DUMP:
                _write(root / name, redact(text))
            continue
        if name not in OPTIONAL_TEXT:
            raise InputError(f"write_bundle: unknown bundle file name {name!r}")
        _write(root / name, redaction.evidence_text(text, max_text))
    if resources:
        (root / "resources").mkdir(exist_ok=True)
        for name, text in resources.items():
            if not _NAME_OK.match(name) or not name.endswith((".yaml", ".yml")):
                raise InputError(f"write_bundle: resource file name {name!r} must be a plain *.yaml name")
            _write(root / "resources" / name, redaction.evidence_text(text, max_text))
    if diagnosis is not None:
        _write(root / DIAGNOSIS, json.dumps(redaction.redact_value(diagnosis.to_json()), indent=2) + "\n")
    return root
