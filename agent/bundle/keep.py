"""Keep the evidence of failed probes: one bundle directory per failure, the last N per path.

Builds the DESIGN.md bundle from what a check gathered (only the access-log lines of this
probe's request ids, the filtered cluster dump, the policy objects involved) and writes it through
agent.bundle.write.write_bundle, which redacts secrets. Bounded: per-bundle bytes (the dump is dropped
first, then logs are cut) and bundles per path (oldest removed). Takes explicit settings and the
attempt; probe.json records everything the diagnosis used (expected statuses, repeatability), so
`meshprober diagnose DIR` reaches the bundle's own diagnosis.json.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from agent import redaction
from agent.bundle.format import CLIENT_LOG, DUMP, SERVER_LOG
from agent.bundle.write import write_bundle
from agent.istio.mesh import MESH_CONFIGMAP, SIDECAR_CONTAINER
from agent.kube.cluster import PodInfo
from agent.model import Diagnosis
from agent.results import Attempt, Gathered

if TYPE_CHECKING:
    from agent.config import PathConfig

log = logging.getLogger(__name__)
POLICY_KINDS = {"DestinationRule", "PeerAuthentication", "Policy", "MeshPolicy"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_LOG_LINES = 50


@dataclass(frozen=True)
class EvidenceSettings:
    """Where bundles go (None: not kept), how many per path, and the byte budget of one bundle."""

    dir: Path | None = None
    keep_per_path: int = 5
    max_bytes: int = 1_000_000

    @property
    def enabled(self) -> bool:
        return self.dir is not None and self.keep_per_path > 0


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
        spec["containers"] = [_container(c) for c in spec.get("containers") or []]
        spec["initContainers"] = [_container(c) for c in spec.get("initContainers") or []]
        # initContainers: a native sidecar runs there (restartPolicy Always).
        keep = {"containers", "initContainers", "serviceAccountName"}
        out["spec"] = {k: v for k, v in spec.items() if k in keep and v}
    return out


def _container(c: dict[str, Any]) -> dict[str, Any]:
    """A container without its environment and command line; the sidecar keeps only its `--domain`
    argument, which tells the cluster domain (Istio's injection template sets it)."""
    out = {k: v for k, v in c.items() if k not in {"env", "envFrom", "args", "command"}}
    args = c.get("args")
    if c.get("name") == SIDECAR_CONTAINER and isinstance(args, list) and "--domain" in args:
        i = args.index("--domain")
        out["args"] = [str(a) for a in args[i : i + 2]]
    return out


def _resources(objects: list[dict[str, Any]], pod: PodInfo, path: PathConfig) -> dict[str, str]:
    service, namespace, _ = path.destination()
    keep: list[dict[str, Any]] = []
    for obj in objects:
        kind, meta = obj.get("kind"), obj.get("metadata") or {}
        ns, name = meta.get("namespace"), meta.get("name")
        if (
            kind in POLICY_KINDS
            or kind in ("Telemetry", "VirtualService")  # whether sidecars log; which subset was used
            or (
                kind == "ConfigMap" and (name == MESH_CONFIGMAP or str(name).startswith(MESH_CONFIGMAP + "-"))
            )
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
    settings: EvidenceSettings,
    path: PathConfig,
    pod: PodInfo,
    container: str,
    attempt: Attempt,
    g: Gathered,
    d: Diagnosis,
    *,
    repeatable: bool | None = None,
    on_error: Callable[[str], None] = lambda stage: None,
) -> Path | None:
    """Write this failure's bundle and prune the path's old ones; None when bundles are off or the
    write failed (counted as on_error("evidence") and logged, never raised)."""
    if settings.dir is None or settings.keep_per_path <= 0:
        return None
    ids = [attempt.request_id]
    optional: dict[str, str] = {}
    for name, text in ((CLIENT_LOG, g.client_log), (SERVER_LOG, g.server_log)):
        lines = _lines_with(text, ids)
        if lines is not None:
            optional[name] = lines
    if g.dump is not None:
        optional[DUMP] = g.dump.decode("utf-8", "replace")
    resources = _resources(g.objects, pod, path)
    budget = settings.max_bytes
    used = len(attempt.stdout) + len(attempt.stderr) + sum(len(v) for v in resources.values())
    if used + sum(len(v) for v in optional.values()) > budget:
        optional.pop(DUMP, None)
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
        "expect": list(path.expect) if path.expect else [200],
        "repeatable": repeatable,
        "start_time": dt.datetime.fromtimestamp(attempt.started, dt.UTC).isoformat().replace("+00:00", "Z"),
        "path": path.name,
        "notes": g.notes,
    }  # fmt: skip
    root = settings.dir / _UNSAFE.sub("_", path.name)
    try:
        target = write_bundle(
            root / bundle_name(attempt.started, attempt.request_id),
            probe=probe,
            curl_stdout=attempt.stdout.decode("utf-8", "replace"),
            curl_stderr=attempt.stderr.decode("utf-8", "replace"),
            curl_exit=attempt.exit_code,
            optional=optional,
            resources=resources,
            diagnosis=d,
            max_text=max(1024, budget // 2),  # write_bundle cuts after it redacts
        )
        _prune(root, settings.keep_per_path)
    except OSError as exc:  # a full or read-only disk costs the bundle, never the result
        on_error("evidence")
        log.warning("could not write the evidence bundle of %s: %s", path.name, exc)
        return None
    return target


def _prune(root: Path, keep: int) -> None:
    bundles = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in bundles[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
