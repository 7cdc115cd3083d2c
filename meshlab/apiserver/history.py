"""The store's change history: the window of recent events that watches resume from and that
paginated lists (continue tokens) are served as of.

Mirrors kube-apiserver's watch cache (kubernetes/kubernetes
staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go and watch_cache.go): events are kept for
at least `DefaultEventFreshDuration` (75 s = the 60 s bookmark frequency + 15 s) and between 100
and 100*1024 of them; a watch or a continue token older than the oldest kept event is answered
with 410 Gone ("too old resource version", reason Expired), which is what makes clients relist.
`compact()` drops the whole window at once (tests and benchmarks force a 410 with it, as an etcd
compaction would).

Pure data structure, thread-safe; the store records under its own lock so history order is the
resourceVersion order. Objects are kept by reference: the store never mutates a stored object in
place (every write stores a fresh dict), so nothing is copied here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name

EVENT_FRESH_S = 75.0  # cacher.go DefaultEventFreshDuration
LOWER_BOUND = 100  # watch_cache.go defaultLowerBoundCapacity
UPPER_BOUND = 100 * 1024  # watch_cache.go defaultUpperBoundCapacity


@dataclass(frozen=True)
class Change:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: Key
    obj: dict[str, Any]  # the object after the change (for DELETED: the last state, at the deletion rv)
    prev: dict[str, Any] | None  # the object before the change (None for ADDED)
    at: float  # monotonic time of the change


class Gone(Exception):
    """The requested resourceVersion is older than the kept window (HTTP 410, reason Expired)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class History:
    def __init__(
        self,
        fresh_s: float = EVENT_FRESH_S,
        lower: int = LOWER_BOUND,
        upper: int = UPPER_BOUND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._events: deque[Change] = deque()
        self._fresh_s = fresh_s
        self._lower = lower
        self._upper = upper
        self._clock = clock
        self._compacted = 0  # every rv <= this one is outside the window
        self._waiters: list[Callable[[], None]] = []

    def record(self, rv: int, kind: str, key: Key, obj: dict[str, Any], prev: dict[str, Any] | None) -> None:
        now = self._clock()
        with self._lock:
            self._events.append(Change(rv, kind, key, obj, prev, now))
            while len(self._events) > self._upper or (
                len(self._events) > self._lower and now - self._events[0].at > self._fresh_s
            ):
                self._compacted = self._events.popleft().rv

    def wake(self) -> None:
        """Tell every waiting watch that new events may be there (after the store lock is released)."""
        with self._lock:
            waiters = list(self._waiters)
        for w in waiters:
            w()

    def add_waiter(self, waiter: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._waiters.append(waiter)

        def remove() -> None:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

        return remove

    def set_floor(self, rv: int) -> None:
        """Nothing at or below `rv` is served from history (the store's state when it was created)."""
        with self._lock:
            self._compacted = max(self._compacted, rv)

    def compact(self, upto: int | None = None) -> None:
        """Forget events with rv <= upto (default: all), like an etcd compaction."""
        with self._lock:
            while self._events and (upto is None or self._events[0].rv <= upto):
                self._compacted = self._events.popleft().rv
            if upto is not None:
                self._compacted = max(self._compacted, upto)
            elif not self._events:
                self._compacted = max(self._compacted, self._last_locked())

    def _last_locked(self) -> int:
        return self._events[-1].rv if self._events else self._compacted

    @property
    def oldest(self) -> int:
        """The oldest rv a watch may resume from (events after it are all kept)."""
        with self._lock:
            return self._compacted

    def since(self, rv: int) -> list[Change]:
        """Every change with rv > `rv`, oldest first; Gone when some of them are no longer kept."""
        with self._lock:
            if rv < self._compacted:
                raise Gone(rv, self._compacted)
            if not self._events or self._events[-1].rv <= rv:
                return []
            # the window is short and usually read from its end: walk back to the first newer event
            out: list[Change] = []
            for ch in reversed(self._events):
                if ch.rv <= rv:
                    break
                out.append(ch)
            out.reverse()
            return out
