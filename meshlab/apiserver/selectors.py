"""Label and field selectors as the API server parses them (`k=v,k!=v,k in (a,b),!k`).

Pure; no I/O. Bad selectors raise ApiError 400 naming the selector.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from meshlab.apiserver.status import ApiError

Predicate = Callable[[Mapping[str, str]], bool]

_SET_RE = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms, depth, cur = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t for t in terms if t.strip()]


def _term(term: str, which: str) -> Predicate:
    if m := _SET_RE.match(term):
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ_RE.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if which == "label" and (m := _EXISTS_RE.match(term)):
        neg, key = m.groups()
        if neg:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise ApiError(
        400, f'unable to parse requirement: invalid {which} selector: "{term.strip()}"', "BadRequest"
    )


def parse_selector(selector: str | None, which: str = "label") -> Predicate:
    """Compile a selector string to a predicate over a flat str->str mapping."""
    if not selector:
        return lambda _labels: True
    preds = [_term(t, which) for t in _split_terms(selector)]
    return lambda labels: all(p(labels) for p in preds)


SUPPORTED_FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "status.phase",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.podIP",
)


def object_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    """The flat field set a fieldSelector is evaluated against."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    fields = {
        "metadata.name": str(meta.get("name", "")),
        "metadata.namespace": str(meta.get("namespace", "")),
    }
    if isinstance(spec, Mapping):
        fields["spec.nodeName"] = str(spec.get("nodeName", ""))
        fields["spec.serviceAccountName"] = str(spec.get("serviceAccountName", ""))
    if isinstance(status, Mapping):
        fields["status.phase"] = str(status.get("phase", ""))
        fields["status.podIP"] = str(status.get("podIP", ""))
    return fields


def parse_field_selector(selector: str | None) -> Predicate:
    pred = parse_selector(selector, "field")
    for term in _split_terms(selector or ""):
        m = _EQ_RE.match(term)
        if m and m.group(1) not in SUPPORTED_FIELDS:
            raise ApiError(400, f"field label not supported: {m.group(1)}", "BadRequest")
    return pred
