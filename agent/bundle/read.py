"""Read an evidence bundle directory into a `Bundle`, validating every file it holds.

File I/O only; parsing is delegated to the pure parsers. Bad input raises `agent.errors.InputError`
naming the file; it never guesses a missing value. Diagnosing a bundle is `agent.bundle.to_input`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.bundle.format import CURL_FILES, DUMP, LOGS, MAX_FILE_BYTES, OPTIONAL_TEXT, PROBE, REQUIRED
from agent.envoy.config_dump import parse_clusters
from agent.errors import InputError
from agent.evidence import ClusterInfo


@dataclass
class Bundle:
    path: Path
    probe: dict[str, Any]
    curl_stdout: str
    curl_stderr: str
    curl_exit: int | None
    texts: dict[str, str] = field(default_factory=dict)  # optional text files present, by name
    clusters: list[ClusterInfo] | None = None  # parsed client config dump, when present
    resources: list[dict[str, Any]] | None = None  # objects of resources/*.yaml, when present
    notes: list[str] = field(default_factory=list)
    curl_present: bool = True  # False: a partial bundle with access logs and no curl files

    @property
    def expected_status(self) -> int:
        return int(self.probe.get("expected_status", 200))

    @property
    def expect(self) -> tuple[int, ...]:
        """Every status the path accepts (`expect` in probe.json; else just expected_status)."""
        listed = self.probe.get("expect")
        return tuple(listed) if listed else (self.expected_status,)


def _read_bytes(path: Path) -> bytes:
    """A bundle file's bytes, refusing files larger than any real bundle holds."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path}: file too large ({size} bytes, limit {MAX_FILE_BYTES})")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _read(path: Path, *, lenient: bool = False) -> str:
    data = _read_bytes(path)
    if lenient:
        return data.decode("utf-8", errors="replace")
    if b"\x00" in data:
        raise InputError(f"{path}: binary data (NUL bytes), expected text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from exc


def _probe(path: Path) -> dict[str, Any]:
    text = _read(path)
    if not text.strip():
        raise InputError(f"{path}: empty file, expected a JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(data).__name__}")
    exp = data.get("expected_status", 200)
    if isinstance(exp, bool) or not isinstance(exp, int) or not 100 <= exp <= 599:
        raise InputError(f"{path}: field expected_status must be an HTTP status 100-599, got {exp!r}")
    target = data.get("target")
    if target is not None and not isinstance(target, str):
        raise InputError(f"{path}: field target must be a URL string")
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise InputError(f"{path}: field source must be an object")
    expect = data.get("expect")
    if expect is not None and (
        not isinstance(expect, list)
        or not expect
        or any(isinstance(c, bool) or not isinstance(c, int) or not 100 <= c <= 599 for c in expect)
    ):
        raise InputError(f"{path}: field expect must be a non-empty list of HTTP statuses 100-599")
    if data.get("repeatable") is not None and not isinstance(data.get("repeatable"), bool):
        raise InputError(f"{path}: field repeatable must be true, false or null")
    return data


def _exit(path: Path) -> int:
    text = _read(path).strip()
    if not text:
        raise InputError(f"{path}: empty file, expected curl's exit code (an integer)")
    if not re.fullmatch(r"-?\d{1,4}", text):
        raise InputError(f"{path}: expected an integer exit code, got {text[:40]!r}")
    return int(text)


def _clusters(path: Path) -> list[ClusterInfo]:
    """Parse the dump straight from bytes: a 50 MB dump is not also held as a decoded str copy."""
    data = _read_bytes(path)
    if not data.strip():
        raise InputError(f"{path}: empty file, expected an Envoy config_dump (JSON)")
    try:
        return parse_clusters(data)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc
    except (ValueError, TypeError) as exc:  # e.g. undecodable bytes
        raise InputError(f"{path}: not a readable config_dump ({exc})") from exc


def load_bundle(path: str | Path) -> Bundle:
    """Read and validate a bundle directory; raises InputError naming the file at fault."""
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: bundle directory does not exist")
    if not root.is_dir():
        raise InputError(f"{root}: not a directory (a bundle is a directory of evidence files)")
    # No curl files at all is a partial bundle, diagnosed from its access log(s); some of them is damage.
    partial = not any((root / n).is_file() for n in CURL_FILES) and any((root / n).is_file() for n in LOGS)
    for name in (PROBE,) if partial else REQUIRED:
        if not (root / name).is_file():
            raise InputError(f"{root / name}: required bundle file is missing")
    bundle = Bundle(
        path=root,
        probe=_probe(root / PROBE),
        curl_stdout="" if partial else _read(root / "curl.stdout", lenient=True),
        curl_stderr="" if partial else _read(root / "curl.stderr", lenient=True),
        curl_exit=None if partial else _exit(root / "curl.exit"),
        curl_present=not partial,
    )
    if partial:
        bundle.notes.append("no curl files: diagnosed from the access log alone")
    for name in OPTIONAL_TEXT:
        if (root / name).is_file():
            bundle.texts[name] = _read(root / name)
    if (root / DUMP).is_file():
        bundle.clusters = _clusters(root / DUMP)
    if (root / "resources").is_dir():
        from agent.istio.load import load_objects_from_dir

        loaded = load_objects_from_dir(root / "resources")
        bundle.resources = loaded.objects
        bundle.notes.extend(loaded.notes)
    return bundle
