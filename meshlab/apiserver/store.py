"""Thread-safe in-memory object store: CRUD with uid, resourceVersion, generation and timestamps,
and change notifications. The server thread and the lab's thread both use it.

Does no network or file I/O except `load_dir` (reads manifests). Subscriber callbacks run in the thread
that made the change, after the lock is released; they must not block for long.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from meshlab.apiserver import defaults
from meshlab.apiserver.history import History
from meshlab.apiserver.resources import ResourceType, by_api_version_kind, resolve
from meshlab.apiserver.selectors import object_fields, parse_field_selector, parse_selector
from meshlab.apiserver.status import ApiError, already_exists, conflict, not_found

Subscriber = Callable[[str, dict[str, Any]], None]
Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
ResourceRef = ResourceType | str


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rt(resource: ResourceRef) -> ResourceType:
    if isinstance(resource, ResourceType):
        return resource
    rt = resolve(resource)
    if rt is None:
        raise KeyError(f"unknown resource type {resource!r}")
    return rt


class Store:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._objects: dict[Key, dict[str, Any]] = {}
        # keys per (group, plural): lists of one type do not walk every object (10,000 pods + ...)
        self._by_type: dict[tuple[str, str], set[Key]] = {}
        self._rv = itertools.count(1000)
        self._ips = itertools.count(10)
        self._cluster_ips = itertools.count(10)
        self._subscribers: list[Subscriber] = []
        self._last_rv = "1000"
        self.history = History()  # watches and continue tokens are served from it (see history)
        self._ensure_namespace_locked("default", [])

    # -- notifications -------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        self.history.wake()
        with self._lock:
            subs = list(self._subscribers)
        for kind, obj in events:
            for cb in subs:
                cb(kind, copy.deepcopy(obj))

    @property
    def resource_version(self) -> str:
        with self._lock:
            return self._last_rv

    def _next_rv(self) -> str:
        self._last_rv = str(next(self._rv))
        return self._last_rv

    def _allocate_ip(self) -> str:
        n = next(self._ips)
        return f"10.1.{n // 250}.{n % 250 + 1}"

    def _allocate_cluster_ip(self) -> str:
        n = next(self._cluster_ips)
        return f"10.96.{n // 250}.{n % 250 + 1}"

    # -- writes --------------------------------------------------------------------------------
    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (rt.group, rt.plural, (namespace or "") if rt.namespaced else "", name)

    def _ensure_namespace_locked(self, ns: str, events: list[tuple[str, dict[str, Any]]]) -> None:
        key = ("", "namespaces", "", ns)
        if key in self._objects:
            return
        obj = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self._stamp(obj, None)
        self._objects[key] = obj
        self._by_type.setdefault(key[:2], set()).add(key)
        events.append(("ADDED", obj))
        self.history.record(int(self._last_rv), "ADDED", key, obj, None)

    def _stamp(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        meta = obj.setdefault("metadata", {})
        now = now_rfc3339()
        if old is None:
            meta["uid"] = meta.get("uid") or str(uuid.uuid4())
            meta["creationTimestamp"] = meta.get("creationTimestamp") or now
            meta["generation"] = 1
        else:
            old_meta = old["metadata"]
            meta["uid"] = old_meta["uid"]
            meta["creationTimestamp"] = old_meta["creationTimestamp"]
            changed = obj.get("spec") != old.get("spec")
            meta["generation"] = old_meta.get("generation", 1) + (1 if changed else 0)
        meta["resourceVersion"] = self._next_rv()
        if obj.get("kind") == "Pod":
            defaults.default_pod(obj, now, self._allocate_ip)
        if obj.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet"):
            defaults.default_workload(obj)
        if obj.get("kind") == "Service":
            defaults.default_service(obj, self._allocate_cluster_ip)
        if obj.get("kind") == "Namespace":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]

    def _prepare(
        self, obj: dict[str, Any], rt: ResourceType | None, namespace: str | None
    ) -> tuple[ResourceType, dict[str, Any]]:
        obj = copy.deepcopy(dict(obj))
        if rt is None:
            rt = by_api_version_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            if rt is None:
                raise ApiError(
                    400,
                    f"no kind {obj.get('kind')!r} is registered for version {obj.get('apiVersion')!r}",
                    "BadRequest",
                )
        meta = obj.setdefault("metadata", {})
        if isinstance(meta, dict) and not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + uuid.uuid4().hex[:5]
        if not isinstance(meta, dict) or not meta.get("name"):
            raise ApiError(400, f"{rt.kind}: metadata.name: Required value: name is required", "BadRequest")
        if rt.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        obj["apiVersion"] = rt.api_version()
        obj["kind"] = rt.kind
        return rt, obj

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a manifest unconditionally (the lab's way to change the world)."""
        rt, obj = self._prepare(obj, None, None)
        return self._write(rt, obj, must_exist=None, expect_rv=None)

    def create(self, rt: ResourceType, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        rt, obj = self._prepare(obj, rt, namespace)
        return self._write(rt, obj, must_exist=False, expect_rv=None)

    def replace(self, rt: ResourceType, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        rt, obj = self._prepare(obj, rt, namespace)
        rv = obj["metadata"].get("resourceVersion") or None
        return self._write(rt, obj, must_exist=True, expect_rv=rv)

    def _write(
        self, rt: ResourceType, obj: dict[str, Any], must_exist: bool | None, expect_rv: str | None
    ) -> dict[str, Any]:
        meta = obj["metadata"]
        events: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            key = self._key(rt, meta.get("namespace"), meta["name"])
            old = self._objects.get(key)
            if must_exist is False and old is not None:
                raise already_exists(rt, meta["name"])
            if must_exist is True and old is None:
                raise not_found(rt, meta["name"])
            if old is not None and expect_rv and old["metadata"]["resourceVersion"] != expect_rv:
                raise conflict(rt, meta["name"])
            if rt.namespaced:
                self._ensure_namespace_locked(meta["namespace"], events)
            if old is not None and obj.get("kind") == "Pod" and "status" not in obj:
                obj["status"] = copy.deepcopy(old.get("status"))  # status is not part of the spec write
            self._stamp(obj, old)
            self._objects[key] = obj
            self._by_type.setdefault(key[:2], set()).add(key)
            kind = "MODIFIED" if old is not None else "ADDED"
            events.append((kind, obj))
            self.history.record(int(self._last_rv), kind, key, obj, old)
            result = copy.deepcopy(obj)
        self._notify(events)
        return result

    def delete(self, resource: ResourceRef, namespace: str | None, name: str) -> dict[str, Any] | None:
        rt = _rt(resource)
        events: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            key = self._key(rt, namespace, name)
            obj = self._objects.pop(key, None)
            self._by_type.get(key[:2], set()).discard(key)
            if obj is not None and rt.plural == "namespaces":  # the namespace controller's cascade
                for k in [k for k in self._objects if k[2] == name]:
                    self._by_type.get(k[:2], set()).discard(k)
                    events.append(("DELETED", self._deleted_locked(k, self._objects.pop(k))))
            if obj is not None:
                events.append(("DELETED", self._deleted_locked(key, obj)))
        if obj is None:
            return None
        self._notify(events)
        return copy.deepcopy(obj)

    def _deleted_locked(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        """The DELETED event's object: the last state, carrying the deletion's resourceVersion
        (as the real server's watch does), recorded in the history."""
        gone = {**obj, "metadata": {**obj["metadata"], "resourceVersion": self._next_rv()}}
        self.history.record(int(self._last_rv), "DELETED", key, gone, obj)
        return gone

    # -- reads ---------------------------------------------------------------------------------
    def get(self, resource: ResourceRef, namespace: str | None, name: str) -> dict[str, Any] | None:
        rt = _rt(resource)
        with self._lock:
            obj = self._objects.get(self._key(rt, namespace, name))
            if obj is None and rt.plural in ("endpoints", "endpointslices"):
                return next(
                    (e for e in self._derived(rt.plural, namespace) if e["metadata"]["name"] == name), None
                )
            return copy.deepcopy(obj) if obj is not None else None

    def list(
        self,
        resource: ResourceRef,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Objects of one type, in one namespace (or all), filtered; sorted by namespace and name."""
        rt = _rt(resource)
        labels_ok = parse_selector(label_selector)
        fields_ok = parse_field_selector(field_selector)
        with self._lock:
            objs = [
                self._objects[k]
                for k in self._by_type.get((rt.group, rt.plural), ())
                if not namespace or k[2] == namespace
            ]
            if rt.plural in ("endpoints", "endpointslices"):
                have = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs}
                objs += [
                    e
                    for e in self._derived(rt.plural, namespace)
                    if (e["metadata"]["namespace"], e["metadata"]["name"]) not in have
                ]
            out = [
                copy.deepcopy(o)
                for o in objs
                if labels_ok((o.get("metadata") or {}).get("labels") or {}) and fields_ok(object_fields(o))
            ]
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return out

    def snapshot(
        self, resource: ResourceRef, namespace: str | None, rv: int | None = None
    ) -> tuple[int, dict[Key, dict[str, Any]]]:
        """(rv, {key: object}) of one type (in one namespace or all) as of `rv` (None: now), rebuilt by
        undoing the newer changes kept in the history; history.Gone when they are no longer kept.
        The objects are the store's own: read-only, copy before changing. No derived endpoints."""
        rt = _rt(resource)
        with self._lock:
            current = int(self._last_rv)
            state = {
                k: self._objects[k]
                for k in self._by_type.get((rt.group, rt.plural), ())
                if not namespace or k[2] == namespace
            }
            if rv is None or rv >= current:
                return current, state
            for ch in reversed(self.history.since(rv)):
                if ch.key[:2] != (rt.group, rt.plural) or (namespace and ch.key[2] != namespace):
                    continue
                if ch.prev is None:
                    state.pop(ch.key, None)
                else:
                    state[ch.key] = ch.prev
            return rv, state

    def _derived(self, plural: str, namespace: str | None) -> Iterator[dict[str, Any]]:
        """Endpoints (or EndpointSlices) computed from Services and pods, for Services without explicit ones."""
        for ep in self._derived_endpoints(namespace):
            yield ep if plural == "endpoints" else defaults.endpoint_slice(ep)

    def _derived_endpoints(self, namespace: str | None) -> Iterator[dict[str, Any]]:
        pods_by_ns: dict[str, list[dict[str, Any]]] = {}
        for pk in self._by_type.get(("", "pods"), ()):
            if not namespace or pk[2] == namespace:
                pods_by_ns.setdefault(pk[2], []).append(self._objects[pk])
        for k in sorted(self._by_type.get(("", "services"), ())):
            if namespace and k[2] != namespace:
                continue
            if ("", "endpoints", k[2], k[3]) in self._objects:
                continue
            ep = defaults.derive_endpoints(self._objects[k], pods_by_ns.get(k[2], []))
            if ep is not None:
                yield ep

    def load(self, objects: Iterable[dict[str, Any]]) -> None:
        """Apply initial objects; a bad one is a ValueError naming it (position, kind, name)."""
        for i, obj in enumerate(objects):
            try:
                self.apply(obj)
            except (ApiError, AttributeError, TypeError) as exc:
                name = (obj.get("metadata") or {}).get("name") if isinstance(obj, dict) else None
                kind = obj.get("kind") if isinstance(obj, dict) else type(obj).__name__
                raise ValueError(f"object {i + 1} ({kind} {name!r}) cannot be loaded: {exc}") from None


def load_manifests(path: Path) -> list[dict[str, Any]]:
    """Read every *.yaml/*.yml/*.json document under `path` (a file or directory); `List`s are expanded."""
    files = (
        sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
        if path.is_dir()
        else [path]
    )
    out: list[dict[str, Any]] = []
    for f in files:
        try:
            docs = list(yaml.safe_load_all(f.read_text()))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{f}: cannot read manifest: {exc}") from exc
        for i, doc in enumerate(docs):
            if doc is None:
                continue
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                raise ValueError(
                    f"{f}: document {i + 1} is not a Kubernetes object (needs apiVersion and kind)"
                )
            out.extend((doc.get("items") or []) if doc["kind"].endswith("List") else [doc])
    return out
