"""LIST with the real server's query semantics: `limit`/`continue` pagination, `resourceVersion` and
`resourceVersionMatch`, `remainingItemCount`.

Follows https://kubernetes.io/docs/reference/using-api/api-concepts/ ("Retrieving large results
sets in chunks", "Resource versions", "Semantics for get and list") and the error wording of
kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go and
apimachinery/pkg/apis/meta/internalversion/validation:
- every page of a paginated list is served as of the first page's resourceVersion (the token
  carries it), so a paginated list is consistent, as with etcd's MVCC;
- a continue token older than the kept history is 410 Gone, reason Expired, and that Status carries
  a fresh token that continues inconsistently, as the real server's does;
- `resourceVersionMatch=Exact` serves the list as of that version (410 if too old);
  `NotOlderThan` (and rv "0") serves the newest state; an rv newer than the server's is 504
  "Too large resource version" (the real server waits up to 3 s first);
- rv without a match and with a limit is Exact (the legacy rule); without a limit, NotOlderThan.
No I/O; the handler renders the result.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshlab.apiserver.history import Gone
from meshlab.apiserver.resources import ResourceType
from meshlab.apiserver.selectors import object_fields, parse_field_selector, parse_selector
from meshlab.apiserver.status import ApiError, bad_request
from meshlab.apiserver.store import Store

CONTINUE_KEY_VERSION = "meta.k8s.io/v1"  # what the real token's JSON carries as "v"
EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start "
    "a new list without the continue parameter, or use the continue token in this response to "
    "retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the first "
    "chunk was returned and now may show up in the list."
)
_DERIVED = ("endpoints", "endpointslices")  # computed from Services and Pods: no history of their own


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]  # shallow copies: set top-level keys only, never change nested ones
    resource_version: str
    continue_token: str
    remaining: int | None  # remainingItemCount; None when unknown (selectors) or no more pages


def encode_token(rv: int, start: tuple[str, str]) -> str:
    raw = json.dumps({"v": CONTINUE_KEY_VERSION, "rv": rv, "start": f"{start[0]}/{start[1]}"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, tuple[str, str]]:
    """(rv, the last key of the previous page) or ApiError 400 naming the bad token."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        rv, start = int(doc["rv"]), str(doc["start"])
        if doc.get("v") != CONTINUE_KEY_VERSION:
            raise ValueError(f"unknown token version {doc.get('v')!r}")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from None
    ns, _, name = start.rpartition("/")
    return rv, (ns, name)


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"{name}: Invalid value: {raw!r}: must be an integer") from None


def _requested_rv(query: Mapping[str, str], limit: int | None, newest: int) -> int | None:
    """The rv to serve the first page as of; None: the newest state."""
    rv_raw = query.get("resourceVersion", "")
    match = query.get("resourceVersionMatch", "")
    if match and not rv_raw:
        raise bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
        )
    if match not in ("", "Exact", "NotOlderThan"):
        raise bad_request(
            f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"'
        )
    if rv_raw in ("", "0"):
        if match == "Exact":
            raise bad_request(
                'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
            )
        return None
    try:
        rv = int(rv_raw)
    except ValueError:
        raise bad_request(f"resourceVersion: Invalid value: {rv_raw!r}: must be an integer") from None
    if rv > newest:
        raise ApiError(504, f"Too large resource version: {rv}, current: {newest}", "Timeout")
    exact = match == "Exact" or (not match and limit is not None)
    return rv if exact else None


def list_page(store: Store, rt: ResourceType, ns: str | None, query: Mapping[str, str]) -> Page:
    """One page of a LIST, with the real server's pagination and resourceVersion semantics."""
    limit = _int_param(query, "limit")
    if limit is not None and limit <= 0:
        limit = None  # the real server treats limit <= 0 as "no limit"
    token = query.get("continue", "")
    start: tuple[str, str] | None = None
    newest = int(store.resource_version)
    if token:
        if query.get("resourceVersion", "") not in ("", "0"):
            raise bad_request("specifying resource version is not allowed when using continue")
        if query.get("resourceVersionMatch"):
            raise bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided"
            )
        at, start = decode_token(token)
    else:
        exact = _requested_rv(query, limit, newest)
        at = exact if exact is not None else newest
    labels_ok = parse_selector(query.get("labelSelector"))
    fields_ok = parse_field_selector(query.get("fieldSelector"))
    if rt.plural in _DERIVED:
        objs = store.list(rt, ns)  # derived objects: served as of now
        keyed = [((o["metadata"].get("namespace", ""), o["metadata"]["name"]), o) for o in objs]
        at = newest
    else:
        try:
            at, state = store.snapshot(rt, ns, at)
        except Gone as exc:
            if token:
                assert start is not None
                err = ApiError(410, EXPIRED_CONTINUE, "Expired")
                err.body["metadata"] = {"continue": encode_token(newest, start)}
                raise err from None
            raise ApiError(
                410, f"The resourceVersion for the provided list is too old. ({exc})", "Expired"
            ) from None
        keyed = [((k[2], k[3]), o) for k, o in state.items()]
    keyed.sort(key=lambda kv: kv[0])
    if start is not None:
        keyed = [kv for kv in keyed if kv[0] > start]
    selected = [
        kv
        for kv in keyed
        if labels_ok((kv[1].get("metadata") or {}).get("labels") or {}) and fields_ok(object_fields(kv[1]))
    ]
    page = selected if limit is None else selected[:limit]
    more = limit is not None and len(selected) > limit
    filtered = bool(query.get("labelSelector") or query.get("fieldSelector"))
    return Page(
        items=[dict(o) for _, o in page],
        resource_version=str(at),
        continue_token=encode_token(at, page[-1][0]) if more else "",
        remaining=(len(selected) - len(page)) if more and not filtered else None,
    )
