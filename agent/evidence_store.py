"""Keep the evidence of failed probes: one bundle directory per failure, the last N per path.

Builds the DESIGN.md bundle from what the pipeline gathered (only the access-log lines of this
probe's request ids, the filtered cluster dump, the policy objects involved) and writes it through
agent.bundle.write_bundle, which redacts secrets. Bounded: per-bundle bytes (the dump is dropped
first, then logs are cut) and bundles per path (oldest removed).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from agent import redaction
from agent.bundle import write_bundle
from agent.kube.cluster import PodInfo
from agent.model import Diagnosis

if TYPE_CHECKING:
    from agent.config import PathConfig
    from agent.gather import Gathered
    from agent.pipeline import Attempt, CheckContext

log = logging.getLogger(__name__)
POLICY_KINDS = {"DestinationRule", "PeerAuthentication", "Policy", "MeshPolicy"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_LOG_LINES = 50


def _lines_with(text: str | None, ids: Iterable[str]) -> str | None:
    if text is None:
        return None
    keep = [line for line in text.splitlines() if any(i in line for i in ids)]
    return "\n".join(keep[-MAX_LOG_LINES:]) + ("\n" if keep else "")


def _scrub(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop what a bundle must not carry or does not need: env values, managed fields, applied copies."""
    out = {k: v for k, v in obj.items() if k != "status" or obj.get("kind") == "Pod"}
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    meta["annotations"] = annotations or None
    out["metadata"] = {k: v for k, v in meta.items() if v is not None}
    if obj.get("kind") == "Pod":
        spec = dict(out.get("spec") or {})
        spec["containers"] = [
            {k: v for k, v in c.items() if k not in {"env", "envFrom", "args", "command"}}
            for c in spec.get("containers") or []
        ]
        out["spec"] = {k: v for k, v in spec.items() if k in {"containers", "serviceAccountName"}}
    return out


def _resources(objects: list[dict[str, Any]], pod: PodInfo, path: PathConfig) -> dict[str, str]:
    service, namespace, _ = path.destination()
    keep: list[dict[str, Any]] = []
    for obj in objects:
        kind, meta = obj.get("kind"), obj.get("metadata") or {}
        ns, name = meta.get("namespace"), meta.get("name")
        if (
            kind in POLICY_KINDS
            or (kind == "ConfigMap" and name == "istio")
            or (kind == "Service" and (ns, name) == (namespace, service))
            or (kind == "Pod" and ((ns, name) == (pod.namespace, pod.name) or ns == namespace))
        ):
            keep.append(_scrub(obj))
    if not keep:
        return {}
    # libyaml's dumper when present: the pure-Python one takes most of a bundle's write time.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return {"objects.yaml": yaml.dump_all(keep, Dumper=dumper, sort_keys=False)}


def bundle_name(started: float, request_id: str) -> str:
    stamp = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{request_id[:8]}"


def keep_bundle(
    ctx: CheckContext,
    path: PathConfig,
    pod: PodInfo,
    container: str,
    attempt: Attempt,
    g: Gathered,
    d: Diagnosis,
) -> Path | None:
    """Write this failure's bundle and prune the path's old ones; None when bundles are off or the
    write failed (counted as ctx.errors("evidence") and logged, never raised)."""
    evidence_dir = ctx.evidence_dir  # read once: `demo` clears it while it tears down
    if evidence_dir is None or ctx.keep_per_path <= 0:
        return None
    ids = [attempt.request_id]
    optional: dict[str, str] = {}
    for name, text in (("client-access.log", g.client_log), ("server-access.log", g.server_log)):
        lines = _lines_with(text, ids)
        if lines is not None:
            optional[name] = lines
    if g.dump is not None:
        optional["client-config-dump.json"] = g.dump.decode("utf-8", "replace")
    resources = _resources(g.objects, pod, path)
    budget = ctx.max_bundle_bytes
    out = attempt.exec_result
    used = len(out.stdout) + len(out.stderr) + sum(len(v) for v in resources.values())
    if used + sum(len(v) for v in optional.values()) > budget:
        optional.pop("client-config-dump.json", None)
    for name in list(optional):
        room = max(0, budget - used)
        if len(optional[name]) > room:
            # Redact before the cut, so a cut cannot drop a `Bearer` prefix and keep the token.
            optional[name] = redaction.cut_tail(redaction.redact(optional[name]), room)
        used += len(optional[name])
    probe = {
        "source": {"namespace": pod.namespace, "workload": path.source.label,
                   "pod": pod.name, "container": container},
        "target": path.to.target_url,
        "request_id": attempt.request_id,
        "expected_status": path.expect[0] if path.expect else 200,
        "start_time": dt.datetime.fromtimestamp(attempt.started, dt.UTC).isoformat().replace("+00:00", "Z"),
        "path": path.name,
        "notes": g.notes,
    }  # fmt: skip
    root = evidence_dir / _UNSAFE.sub("_", path.name)
    try:
        target = write_bundle(
            root / bundle_name(attempt.started, attempt.request_id),
            probe=probe,
            curl_stdout=out.stdout.decode("utf-8", "replace"),
            curl_stderr=out.stderr.decode("utf-8", "replace"),
            curl_exit=out.exit_code,
            optional=optional,
            resources=resources,
            diagnosis=d,
            max_text=max(1024, budget // 2),  # write_bundle cuts after it redacts
        )
        _prune(root, ctx.keep_per_path)
    except OSError as exc:  # a full or read-only disk costs the bundle, never the result
        ctx.errors("evidence")
        log.warning("could not write the evidence bundle of %s: %s", path.name, exc)
        return None
    return target


def _prune(root: Path, keep: int) -> None:
    bundles = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in bundles[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
