"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and an approximation of strategic
merge patch (merge patch, with lists of objects merged by a merge key such as `name` or `port`,
`$patch: delete` and `$setElementOrder` honoured, as `kubectl apply` sends them).

Pure; no I/O. Errors raise ApiError 422/400 with the reason, never a traceback.
"""

from __future__ import annotations

import copy
from typing import Any

from meshlab.apiserver.status import ApiError

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


# List merge keys of the built-in types a lab user patches (containers/env/volumes by name,
# Service ports by port, container ports by containerPort); tried in this order.
_MERGE_KEYS = ("name", "port", "containerPort", "ip", "mountPath")


def merge_patch(target: Any, patch: Any, strategic: bool = False) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # other strategic-merge directives ($retainKeys...): ignored
        if value is None:
            out.pop(key, None)
        elif strategic and isinstance(value, list) and isinstance(out.get(key), list):
            order = patch.get(f"$setElementOrder/{key}")
            out[key] = _merge_list(out[key], value, order if isinstance(order, list) else None)
        else:
            out[key] = merge_patch(out.get(key), value, strategic)
    return out


def _merge_key(items: list[Any]) -> str | None:
    for key in _MERGE_KEYS:
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def _merge_list(current: list[Any], patch: list[Any], order: list[Any] | None) -> list[Any]:
    """Strategic merge of a list of objects by its merge key: `$patch: delete` items remove,
    others merge or append; `$setElementOrder` (what `kubectl apply` sends) sets the order."""
    # kubectl names each item by its real merge key in $patch/$setElementOrder entries.
    key = _merge_key(current + patch + (order or []))
    if key is None:
        return copy.deepcopy(patch)  # primitives / unkeyed objects: the patch replaces the list
    merged = {item[key]: item for item in current}
    for item in patch:
        if item.get("$patch") == "delete":
            merged.pop(item[key], None)
        else:
            merged[item[key]] = merge_patch(merged.get(item[key], {}), item, True)
    if order and (wanted := [o[key] for o in order if isinstance(o, dict) and key in o]):
        rank = {k: i for i, k in enumerate(wanted)}
        return sorted(merged.values(), key=lambda item: rank.get(item[key], len(rank)))
    return list(merged.values())


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"json patch: invalid path {path!r}", "Invalid")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts[:-1]:
        try:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, f"json patch: path {path!r} does not exist", "Invalid") from None
    return cur


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise ApiError(400, "json patch: body must be a JSON array of operations", "BadRequest")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, f"json patch: bad operation {op!r}", "BadRequest")
        name, path = op["op"], op["path"]
        if name in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_get(doc, src, op.get("from", "")))
            if name == "move":
                doc = _remove(doc, src, op["from"])
            doc = _add(doc, _pointer(path), value, path)
        elif name == "add":
            doc = _add(doc, _pointer(path), copy.deepcopy(op.get("value")), path)
        elif name == "remove":
            doc = _remove(doc, _pointer(path), path)
        elif name == "replace":
            doc = _remove(doc, _pointer(path), path)
            doc = _add(doc, _pointer(path), copy.deepcopy(op.get("value")), path)
        elif name == "test":
            if _get(doc, _pointer(path), path) != op.get("value"):
                raise ApiError(422, f"json patch: test failed at {path!r}", "Invalid")
        else:
            raise ApiError(400, f"json patch: unknown op {name!r}", "BadRequest")
    return doc


def _get(doc: Any, parts: list[str], path: str) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    try:
        return parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ApiError(422, f"json patch: path {path!r} does not exist", "Invalid") from None


def _add(doc: Any, parts: list[str], value: Any, path: str) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    if isinstance(parent, list):
        idx = len(parent) if parts[-1] == "-" else int(parts[-1])
        parent.insert(idx, value)
    elif isinstance(parent, dict):
        parent[parts[-1]] = value
    else:
        raise ApiError(422, f"json patch: cannot add at {path!r}", "Invalid")
    return doc


def _remove(doc: Any, parts: list[str], path: str) -> Any:
    _get(doc, parts, path)
    parent = _parent(doc, parts, path)
    if isinstance(parent, list):
        parent.pop(int(parts[-1]))
    else:
        del parent[parts[-1]]
    return doc


def apply_patch(content_type: str, current: dict[str, Any], body: Any) -> dict[str, Any]:
    ct = content_type.split(";")[0].strip().lower()
    if ct == JSON_PATCH:
        result = json_patch(current, body)
    elif ct in (MERGE, APPLY):
        result = merge_patch(current, body)
    elif ct == STRATEGIC:
        result = merge_patch(current, body, strategic=True)
    else:
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types "
            f"include: {JSON_PATCH}, {MERGE}, {STRATEGIC}, {APPLY}",
            "UnsupportedMediaType",
        )
    if not isinstance(result, dict):
        raise ApiError(422, "patch result is not an object", "Invalid")
    return result
