"""Load Kubernetes/Istio objects from YAML or JSON text and directories of such files.

Reads files only (no network, no subprocess). A syntax error becomes a note naming the file and
line; the remaining documents and files still load. Each object gets a `__source__` key
("file.yaml#2") so later validation notes can name where an object came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SOURCE_KEY = "__source__"
_SUFFIXES = (".yaml", ".yml", ".json")
_MAX_FILES = 10_000  # bound the directory walk


@dataclass
class LoadResult:
    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _flatten(doc: Any) -> Iterator[dict[str, Any]]:
    """Yield objects from a document; `kind: List` (kubectl get -o yaml) is expanded."""
    if isinstance(doc, dict):
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                yield from _flatten(item)
        else:
            yield doc
    elif isinstance(doc, list):
        for item in doc:
            yield from _flatten(item)


def load_objects_from_text(text: str, source_name: str) -> LoadResult:
    """Parse multi-document YAML (JSON is YAML) into objects; bad documents become notes."""
    result = LoadResult()
    loader = yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader
    index = 0
    try:
        for doc in yaml.load_all(text, Loader=loader):
            index += 1
            if doc is None:
                continue
            if not isinstance(doc, (dict, list)):
                result.notes.append(f"{source_name}: document {index} is not an object (skipped)")
                continue
            for obj in _flatten(doc):
                obj.setdefault(SOURCE_KEY, f"{source_name}#{index}")
                result.objects.append(obj)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        result.notes.append(
            f"{source_name}:{where}: YAML syntax error: {problem} (rest of this file skipped)"
        )
    return result


def load_objects_from_dir(path: Path) -> LoadResult:
    """Load every *.yaml|*.yml|*.json under `path` (recursive, sorted); a file path works too."""
    result = LoadResult()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
    else:
        result.notes.append(f"{path}: no such file or directory")
        return result
    for file in files[:_MAX_FILES]:
        name = str(file.relative_to(path)) if file != path else file.name
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.notes.append(f"{name}: cannot read: {exc}")
            continue
        part = load_objects_from_text(text, name)
        result.objects.extend(part.objects)
        result.notes.extend(part.notes)
    if len(files) > _MAX_FILES:
        result.notes.append(f"{path}: more than {_MAX_FILES} files; the rest were not read")
    return result
