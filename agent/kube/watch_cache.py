"""A list+watch cache of one resource in one namespace (or cluster-wide): an informer's reflector.

What client-go's reflector does (kubernetes/client-go tools/cache/reflector.go), on the API
described in https://kubernetes.io/docs/reference/using-api/api-concepts/:
- list in pages (`limit`, `continue`), then watch from the list's resourceVersion with
  `allowWatchBookmarks=true`, so an idle watch still advances the version it resumes from;
- a watch that ends (its `timeoutSeconds`, a server restart, a dropped connection) is resumed
  from the last version seen; 410 Gone (an ERROR event or status, or an expired continue token)
  and "Too large resource version" mean the version is no longer servable: relist;
- errors back off exponentially with full jitter (0.5 s doubling to 30 s), reset by success;
- objects are slimmed on arrival (agent.kube.slim) so memory follows the object count.
One daemon thread per cache; stop() ends it (closing a blocked watch). Reads are lock-protected
snapshots of references (callers must not mutate the returned dicts). Never imports the generated
API classes: requests go through RawApi (see raw_api for why).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from agent.kube import memtrim
from agent.kube.raw_api import RawApi
from agent.kube.slim import Slimmer

log = logging.getLogger(__name__)

# kubectl and client-go use 500; 100 keeps each page's transient full objects (and the memory
# fragmentation they leave behind) small, for a few more requests at sync.
PAGE_SIZE = 100
WATCH_TIMEOUT_S = 300  # client-go picks 5-10 min at random; the jitter spreads the renewals
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
CONNECT_TIMEOUT_S = 3.0
READ_SLACK_S = 30.0  # a watch silent for longer than its timeout plus this is dead
LIST_READ_TIMEOUT_S = 60.0
NOT_SERVED_RETRY_S = 60.0


class Relist(Exception):
    """The version we hold can no longer be watched from (410 Gone, too large): list again."""


@dataclass
class CacheStats:
    """Health of one cache, for metrics and benchmarks."""

    synced: bool = False
    last_sync: float = 0.0  # wall time the cache was last confirmed current (list, event, bookmark)
    lists: int = 0
    relists: int = 0  # lists after the first (410, too-large rv, errors)
    watch_restarts: int = 0  # watches that ended before their own timeout
    events: int = 0
    bookmarks: int = 0
    errors: int = 0
    objects: int = 0
    resource_version: str = ""


class WatchCache:
    """Objects of one resource kept current by list+watch; see the module docstring."""

    def __init__(
        self,
        raw: RawApi,
        collection_path: str,
        slim: Slimmer,
        *,
        name: str,
        page_size: int = PAGE_SIZE,
        watch_timeout: int = WATCH_TIMEOUT_S,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._raw = raw
        self.path = collection_path  # e.g. /api/v1/namespaces/bookinfo/pods or /api/v1/pods
        self._slim = slim
        self.name = name
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._on_change = on_change
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._by_ns: dict[str, dict[str, dict[str, Any]]] = {}
        self._rv = ""
        self.stats = CacheStats()
        # 404 on the collection: the kind is not installed; 403: RBAC does not allow it (a namespace
        # outside the grant, as scope.list_each skips). Either way the cache stays empty, synced,
        # and looks again every NOT_SERVED_RETRY_S.
        self.not_served = False
        self.forbidden = False  # the 403 case: readers fall back to direct reads (which count it)
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: Any = None

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"watch-cache {self.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        resp = self._response
        if resp is not None:
            with contextlib.suppress(Exception):  # already closed: nothing to unblock
                resp.shutdown()  # unblock a read in progress (urllib3 >= 2.3)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    # --- reads ----------------------------------------------------------------------------------
    def items(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Cached objects (in one namespace, or all), sorted by namespace and name. Read-only."""
        with self._lock:
            if namespace is not None:
                found = self._by_ns.get(namespace, {})
                return [found[n] for n in sorted(found)]
            return [self._items[k] for k in sorted(self._items)]

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get((namespace, name))

    # --- the loop -------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = BACKOFF_START_S
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                    backoff = BACKOFF_START_S
                if self.not_served:
                    self._stop.wait(NOT_SERVED_RETRY_S)  # the CRD may get installed, RBAC granted
                    need_list = True
                    continue
                self._watch()
                backoff = BACKOFF_START_S
            except Relist as why:
                log.info("cache %s: relist (%s)", self.name, why)
                need_list = True
            except Exception as exc:  # transport or server error: back off, then resume
                if self._stop.is_set():
                    break
                self.stats.errors += 1
                log.warning("cache %s: %s; retrying in <= %.1fs", self.name, _short(exc), backoff)
                self._stop.wait(random.uniform(0, backoff))  # noqa: S311 (jitter, not crypto)  # full jitter
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _list(self) -> None:
        """Replace the contents with a fresh paginated list; 404 means the kind is not served."""
        items: dict[tuple[str, str], dict[str, Any]] = {}
        token, rv = "", ""
        try:
            while True:
                query: list[tuple[str, Any]] = [("limit", self._page_size)]
                if token:
                    query.append(("continue", token))
                doc = self._get_json(query)
                with _gc_paused():  # thousands of short-lived dicts: no cyclic-GC passes meanwhile
                    for obj in doc.get("items") or []:
                        if isinstance(obj, dict):
                            slim = self._slim(obj)
                            meta = slim["metadata"]
                            items[(meta.get("namespace", ""), meta["name"])] = slim
                meta = doc.get("metadata") or {}
                rv = str(meta.get("resourceVersion") or rv)
                token = str(meta.get("continue") or "")
                if not token or self._stop.is_set():
                    break
        except ApiException as exc:
            if exc.status in (403, 404):
                self.forbidden = exc.status == 403
                if self.forbidden:
                    self.stats.errors += 1
                    log.warning(
                        "cache %s: forbidden; kept empty, retrying in %.0fs", self.name, NOT_SERVED_RETRY_S
                    )
                self.not_served = True
                items, rv = {}, ""
            elif exc.status == 410:  # the continue token expired mid-list: start over
                raise Relist("continue token expired") from exc
            else:
                raise
        else:
            self.not_served = self.forbidden = False
        by_ns: dict[str, dict[str, dict[str, Any]]] = {}
        for (ns, name), obj in items.items():
            by_ns.setdefault(ns, {})[name] = obj
        with self._lock:
            self._items, self._by_ns, self._rv = items, by_ns, rv
        self.stats.lists += 1
        if self.stats.lists > 1:
            self.stats.relists += 1
            memtrim.release()  # a relist decoded the whole collection again
        self._mark_synced(rv)
        self._on_change()

    def _get_json(self, query: list[tuple[str, Any]]) -> dict[str, Any]:
        resp = self._raw.get_path(
            self.path,
            query,
            _preload_content=False,
            _request_timeout=(CONNECT_TIMEOUT_S, LIST_READ_TIMEOUT_S),
        )
        try:
            body = resp.data
        finally:
            resp.release_conn()
        with _gc_paused():
            doc = json.loads(body)
        if not isinstance(doc, dict):
            raise ValueError(f"{self.path}: the API server sent a non-object list")
        return doc

    def _watch(self) -> None:
        timeout = int(self._watch_timeout * random.uniform(1.0, 2.0))  # noqa: S311 (jitter, not crypto)
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("resourceVersion", self._rv),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout),
        ]
        started = time.monotonic()
        try:
            resp = self._raw.get_path(
                self.path,
                query,
                _preload_content=False,
                _request_timeout=(CONNECT_TIMEOUT_S, timeout + READ_SLACK_S),
            )
        except ApiException as exc:
            if exc.status in (410, 504):  # Gone, or "Too large resource version" (a new server)
                raise Relist(f"watch answered {exc.status}") from exc
            raise
        self._response = resp
        try:
            for event in _lines(resp):
                self._apply(event)
                if self._stop.is_set():
                    return
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if self._stop.is_set():
                return
            self.stats.watch_restarts += 1
            raise ConnectionError(f"watch stream broke: {_short(exc)}") from exc
        finally:
            self._response = None
            resp.release_conn()
        if time.monotonic() - started < timeout - 1 and not self._stop.is_set():
            self.stats.watch_restarts += 1  # the server ended it early (restart, shutdown)

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            return
        if kind == "ERROR":
            code = obj.get("code")
            self.stats.watch_restarts += 1
            if code in (410, 504):
                raise Relist(str(obj.get("message") or f"watch error {code}"))
            raise ConnectionError(f"watch error event: {obj.get('message')}")
        meta = obj.get("metadata") or {}
        rv = str(meta.get("resourceVersion") or "")
        if kind == "BOOKMARK":
            self.stats.bookmarks += 1
            with self._lock:
                self._rv = rv or self._rv
            self._mark_synced(rv)
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        with self._lock:
            if kind == "DELETED":
                self._items.pop(key, None)
                self._by_ns.get(key[0], {}).pop(key[1], None)
            else:
                slim = self._slim(obj)
                self._items[key] = slim
                self._by_ns.setdefault(key[0], {})[key[1]] = slim
            self._rv = rv or self._rv
        self.stats.events += 1
        self._mark_synced(rv)
        self._on_change()

    def _mark_synced(self, rv: str) -> None:
        self.stats.synced = True
        self.stats.last_sync = time.time()
        self.stats.resource_version = rv or self.stats.resource_version
        with self._lock:
            self.stats.objects = len(self._items)
        self._synced.set()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a big list page is decoded and slimmed: JSON decoding makes only
    acyclic objects, and each GC pass would scan every object the agent holds (measured: most of
    a 10,000-pod sync went to GC passes). Process-wide but brief (one page)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _lines(resp: Any) -> Iterator[dict[str, Any]]:
    """Watch events: one JSON document per line of the chunked body."""
    buf = b""
    for chunk in resp.stream(64 * 1024, decode_content=True):
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                event = json.loads(line)
                if isinstance(event, dict):
                    yield event
    if buf.strip():
        event = json.loads(buf)
        if isinstance(event, dict):
            yield event


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."
