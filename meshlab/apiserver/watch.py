"""WATCH: a chunked stream of newline-delimited JSON events served from the store's history.

Semantics from https://kubernetes.io/docs/reference/using-api/api-concepts/ ("Efficient detection
of changes", "Watch bookmarks", "Streaming lists", "Semantics for watch") and the cacher in
kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/storage/cacher/ (bookmark frequency 1 min,
one more bookmark just before the watch's deadline):
- no resourceVersion, or "0": synthetic ADDED events for the current state, then changes;
- resourceVersion=X: every change after X; X older than the kept history is an ERROR event with a
  410 Expired Status ("too old resource version: X (Y)") on an HTTP 200 stream, as the real server
  sends, after which the client must relist;
- allowWatchBookmarks=true: BOOKMARK events (only metadata.resourceVersion) every
  `bookmark_interval` seconds and before the deadline; a client resumes from them;
- sendInitialEvents=true (with resourceVersionMatch=NotOlderThan and bookmarks): the current state
  as ADDED events, then a BOOKMARK annotated `k8s.io/initial-events-end: "true"`;
- label/field selectors apply to both sides of a change: an object leaving the selection is a
  DELETED event, one entering it an ADDED event.
EndpointSlices/Endpoints derived from Services are listed but produce no change events.
Every stream is bounded (timeoutSeconds, the backend's watch limit, server stop, client gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from meshlab.apiserver.backend import BACKEND, Backend
from meshlab.apiserver.execws import STREAMING
from meshlab.apiserver.history import Change, Gone
from meshlab.apiserver.logs import qbool
from meshlab.apiserver.resources import ResourceType
from meshlab.apiserver.selectors import object_fields, parse_field_selector, parse_selector
from meshlab.apiserver.status import bad_request, status_body
from meshlab.apiserver.tables import render_table

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _validate(q: Mapping[str, str]) -> None:
    """The query checks of apimachinery's internalversion validation, worded like it."""
    match = q.get("resourceVersionMatch", "")
    initial = "sendInitialEvents" in q
    if match and not initial:
        raise bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless "
            "sendInitialEvents is provided"
        )
    if initial:
        if match != "NotOlderThan":
            raise bad_request(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                "resourceVersionMatch to NotOlderThan"
            )
        if not qbool(q, "allowWatchBookmarks"):
            raise bad_request(
                "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true"
            )
    rv = q.get("resourceVersion", "")
    if rv not in ("", "0") and not rv.isdigit():
        raise bad_request(f"resourceVersion: Invalid value: {rv!r}: must be an integer")


class _Filter:
    def __init__(self, rt: ResourceType, ns: str | None, q: Mapping[str, str]) -> None:
        self.rt, self.ns = rt, ns
        self.labels_ok = parse_selector(q.get("labelSelector"))
        self.fields_ok = parse_field_selector(q.get("fieldSelector"))

    def type_matches(self, ch: Change) -> bool:
        return (
            ch.key[0] == self.rt.group
            and ch.key[1] == self.rt.plural
            and (not self.ns or ch.key[2] == self.ns)
        )

    def selects(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        return self.labels_ok((obj.get("metadata") or {}).get("labels") or {}) and self.fields_ok(
            object_fields(obj)
        )

    def event(self, ch: Change) -> str | None:
        """The event type this watcher sees for a change, or None when it sees nothing."""
        if not self.type_matches(ch):
            return None
        now, before = (False if ch.type == "DELETED" else self.selects(ch.obj)), self.selects(ch.prev)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        if before:
            return "DELETED"
        return None


def _bookmark(rt: ResourceType, version: str, rv: int, initial_end: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"kind": rt.kind, "apiVersion": rt.api_version(version), "metadata": meta}


async def watch(
    request: web.Request, rt: ResourceType, version: str, ns: str | None, table: bool = False
) -> web.StreamResponse:
    backend: Backend = request.app[BACKEND]
    store = backend.store
    q = request.query
    _validate(q)
    flt = _Filter(rt, ns, q)
    bookmarks = qbool(q, "allowWatchBookmarks")
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def waiter() -> None:  # called in whichever thread wrote to the store
        loop.call_soon_threadsafe(wake.set)

    remove_waiter = store.history.add_waiter(waiter)
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        request[STREAMING] = True
        sent_columns = False

        async def send(kind: str, obj: dict[str, Any]) -> None:
            nonlocal sent_columns
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                # a new top level only: the store's own dicts are serialized, never changed
                obj = {**obj, "apiVersion": rt.api_version(version), "kind": rt.kind}
                if table:  # kubectl get -w: each event carries a one-row Table; columns only in the first
                    obj = render_table(rt.plural, [obj], obj["metadata"].get("resourceVersion", ""))
                    if sent_columns:
                        obj["columnDefinitions"] = []
                    sent_columns = True
            line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"
            backend.accounting.add_bytes("watch", len(line))
            # the client went away: the loop ends at its transport check, without a traceback
            with contextlib.suppress(ConnectionError):
                await resp.write(line)

        rv_raw = q.get("resourceVersion", "")
        initial = "sendInitialEvents" in q and qbool(q, "sendInitialEvents")
        if rv_raw in ("", "0") or initial:
            last, state = store.snapshot(rt, ns, None)
            objs = sorted(
                state.values(), key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
            )
            if rt.plural in ("endpoints", "endpointslices"):
                objs = store.list(rt, ns)
            for obj in objs:
                if flt.selects(obj):
                    await send("ADDED", obj)
            if initial:
                await send("BOOKMARK", _bookmark(rt, version, last, initial_end=True))
        else:
            last = int(rv_raw)
        try:
            timeout = min(float(q.get("timeoutSeconds", backend.watch_limit)), backend.watch_limit)
        except ValueError:
            timeout = backend.watch_limit
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + backend.bookmark_interval
        while not _stopping(backend):
            now = loop.time()
            if now >= deadline:
                break
            wake.clear()  # before reading, so a change recorded meanwhile still wakes us
            try:
                changes = store.history.since(last)
            except Gone as exc:
                await send("ERROR", status_body(410, str(exc), "Expired"))
                break
            for ch in changes:
                last = ch.rv
                kind = flt.event(ch)
                if kind is not None:
                    await send(kind, ch.obj)
            if bookmarks and (now >= next_bookmark or deadline - now < 1.0):
                await send("BOOKMARK", _bookmark(rt, version, last))
                next_bookmark = now + backend.bookmark_interval
                if deadline - now < 1.0:
                    break  # the bookmark right before the deadline is the last event
            if request.transport is None or request.transport.is_closing():
                break
            wait = min(deadline - now - (0.9 if bookmarks else 0.0), 1.0)
            if bookmarks:
                wait = min(wait, max(next_bookmark - now, 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.01, wait))
        with contextlib.suppress(ConnectionError):
            await resp.write_eof()
        return resp
    finally:
        remove_waiter()


def _stopping(backend: Backend) -> bool:
    return backend.stopping is not None and backend.stopping.is_set()
