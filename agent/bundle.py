"""Evidence bundles (DESIGN.md): read one from a directory, diagnose it, write one (redacted, bounded).

Does file I/O only; parsing and classification are delegated to the pure parsers and the ladder.
Bad input raises `agent.errors.InputError` naming the file; it never guesses a missing value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.envoy.access_log import find_by_request_id, parse_log
from agent.envoy.config_dump import find_cluster, parse_clusters
from agent.envoy.stats import delta, parse_stats
from agent.errors import InputError, MeshproberError
from agent.evidence import AccessLogEntry, ClusterInfo, PolicyView
from agent.model import Diagnosis
from agent.probe.curl_output import parse_curl

__all__ = ["Bundle", "build_input", "diagnose_bundle", "load_bundle", "redact", "write_bundle"]

REQUIRED = ("probe.json", "curl.stdout", "curl.stderr", "curl.exit")
OPTIONAL_TEXT = (
    "client-access.log",
    "server-access.log",
    "client-stats.before",
    "client-stats.after",
    "server-stats.before",
    "server-stats.after",
)
DUMP = "client-config-dump.json"
MAX_FILE_BYTES = 256 * 1024 * 1024  # a full config dump of a big mesh fits; anything larger is not a bundle
MAX_TEXT_WRITE = 4 * 1024 * 1024  # logs/stats/curl output kept per file when writing


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

    @property
    def expected_status(self) -> int:
        return int(self.probe.get("expected_status", 200))


def _read(path: Path, *, lenient: bool = False) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path}: file too large ({size} bytes, limit {MAX_FILE_BYTES})")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
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


def load_bundle(path: str | Path) -> Bundle:
    """Read and validate a bundle directory; raises InputError naming the file at fault."""
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: bundle directory does not exist")
    if not root.is_dir():
        raise InputError(f"{root}: not a directory (a bundle is a directory of evidence files)")
    for name in REQUIRED:
        if not (root / name).is_file():
            raise InputError(f"{root / name}: required bundle file is missing")
    bundle = Bundle(
        path=root,
        probe=_probe(root / "probe.json"),
        curl_stdout=_read(root / "curl.stdout", lenient=True),
        curl_stderr=_read(root / "curl.stderr", lenient=True),
        curl_exit=_exit(root / "curl.exit"),
    )
    for name in OPTIONAL_TEXT:
        if (root / name).is_file():
            bundle.texts[name] = _read(root / name)
    if (root / DUMP).is_file():
        text = _read(root / DUMP)
        if not text.strip():
            raise InputError(f"{root / DUMP}: empty file, expected an Envoy config_dump (JSON)")
        try:
            bundle.clusters = parse_clusters(text)
        except InputError as exc:
            raise InputError(f"{root / DUMP}: {exc}") from exc
    if (root / "resources").is_dir():
        from agent.istio.load import load_objects_from_dir

        loaded = load_objects_from_dir(root / "resources")
        bundle.resources = loaded.objects
        bundle.notes.extend(loaded.notes)
    return bundle


def _target(bundle: Bundle) -> tuple[str | None, int | None]:
    target = bundle.probe.get("target")
    if not isinstance(target, str) or not target:
        return None, None
    try:
        parts = urlsplit(target if "://" in target else "http://" + target)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None, None
    return parts.hostname, port


def _fqdn_candidates(host: str, namespace: str | None) -> list[str]:
    parts = host.split(".")
    if len(parts) == 1 and namespace:
        return [f"{host}.{namespace}.svc.cluster.local"]
    if len(parts) == 2:
        return [f"{host}.svc.cluster.local"]
    if len(parts) == 3 and parts[2] == "svc":
        return [f"{host}.cluster.local"]
    return [host]


def _entry(text: str | None, rid: str | None) -> AccessLogEntry | None:
    if text is None or not rid:
        return None
    hits = find_by_request_id(parse_log(text), rid)
    return hits[-1] if hits else None  # the last line is the final attempt's outcome


def _cluster(
    bundle: Bundle, entry: AccessLogEntry | None, host: str | None, port: int | None
) -> ClusterInfo | None:
    clusters = bundle.clusters
    if not clusters:
        return None
    if entry is not None and entry.upstream_cluster:
        named = [c for c in clusters if c.name == entry.upstream_cluster]
        if named:
            return named[0]
    if host and port:
        ns = bundle.probe.get("source", {}).get("namespace")
        for fqdn in _fqdn_candidates(host, ns if isinstance(ns, str) else None):
            found = find_cluster(clusters, fqdn, port)
            if found is not None:
                return found
    outbound = [c for c in clusters if c.direction == "outbound" and (port is None or c.port == port)]
    return outbound[0] if len(outbound) == 1 else None


def _policy(
    bundle: Bundle, host: str | None, port: int | None, entry: AccessLogEntry | None
) -> PolicyView | None:
    if bundle.resources is None:
        return None
    # The sidecar's own cluster name says exactly which service it resolved the host to.
    parts = (entry.upstream_cluster or "").split("|") if entry is not None else []
    if len(parts) == 4 and parts[0] == "outbound" and parts[1].isdigit() and parts[3]:
        host, port = parts[3], int(parts[1])
    if not host or not port:
        return None
    from agent.istio.engine import PolicyEngine

    source = bundle.probe.get("source", {})
    ns = source.get("namespace") or "default"
    pod = source.get("pod") or None
    try:
        return PolicyEngine(bundle.resources).check(str(ns), str(pod) if pod else None, host, port)
    except MeshproberError as exc:
        bundle.notes.append(f"policy check skipped: {exc}")
        return None


def _client_has_sidecar(bundle: Bundle) -> bool | None:
    """From the probing pod's object in resources/: an istio-proxy container (or sidecar status) or not."""
    source = bundle.probe.get("source", {})
    name, ns = source.get("pod"), source.get("namespace")
    for obj in bundle.resources or ():
        meta = obj.get("metadata") or {}
        if obj.get("kind") != "Pod" or meta.get("name") != name or (ns and meta.get("namespace", ns) != ns):
            continue
        spec = obj.get("spec") or {}
        containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
        annotations: Mapping[str, Any] = meta.get("annotations") or {}
        return any(isinstance(c, dict) and c.get("name") == "istio-proxy" for c in containers) or (
            "sidecar.istio.io/status" in annotations
        )
    return None


def _stats_delta(bundle: Bundle, side: str) -> dict[str, int]:
    before, after = bundle.texts.get(f"{side}-stats.before"), bundle.texts.get(f"{side}-stats.after")
    if before is None or after is None:
        return {}
    return delta(parse_stats(before), parse_stats(after))


def build_input(bundle: Bundle, repeatable: bool | None = None) -> DiagnoseInput:
    rid = bundle.probe.get("request_id")
    rid = rid if isinstance(rid, str) else None
    host, port = _target(bundle)
    client_entry = _entry(bundle.texts.get("client-access.log"), rid)
    policy = _policy(bundle, host, port, client_entry)
    if repeatable is None and isinstance(bundle.probe.get("repeatable"), bool):
        repeatable = bundle.probe["repeatable"]  # the agent's second probe, when it recorded one
    return DiagnoseInput(
        curl=parse_curl(bundle.curl_stdout, bundle.curl_stderr, bundle.curl_exit),
        expected_status=bundle.expected_status,
        client_entry=client_entry,
        server_entry=_entry(bundle.texts.get("server-access.log"), rid),
        client_log_present="client-access.log" in bundle.texts,
        server_log_present="server-access.log" in bundle.texts,
        client_cluster=_cluster(bundle, client_entry, host, port),
        client_dump_present=bundle.clusters is not None,
        client_stats_delta=_stats_delta(bundle, "client"),
        server_stats_delta=_stats_delta(bundle, "server"),
        policy=policy,
        repeatable=repeatable,
        client_has_sidecar=_client_has_sidecar(bundle),
        target=bundle.probe.get("target") if isinstance(bundle.probe.get("target"), str) else None,
    )


def diagnose_bundle(bundle: Bundle, repeatable: bool | None = None) -> Diagnosis:
    """Classify a loaded bundle (pure from here on)."""
    return classify(build_input(bundle, repeatable))


# Writing lives in its own module (redaction and size bounds); re-exported here for the agent.
from agent.bundle_write import redact, write_bundle  # noqa: E402
