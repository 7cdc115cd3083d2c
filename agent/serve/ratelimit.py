"""Token buckets for the API's probe-triggering endpoints: one per client plus a global cap (thread-safe,
no I/O, injectable clock)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    """`capacity` requests per `window` seconds, refilled continuously."""

    def __init__(self, capacity: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(max(1, capacity))
        self._rate = self._capacity / max(window, 1e-3)
        self._clock = clock
        self._tokens = self._capacity
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int]:
        """(allowed, retry_after_seconds). retry_after is 0 when allowed."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True, 0
            return False, max(1, math.ceil((1.0 - self._tokens) / self._rate))


class ClientRateLimit:
    """One TokenBucket per client (its address) plus one global cap, so one client cannot starve the
    rest and all of them together stay bounded. At most `max_clients` buckets are kept (the least
    recently used goes first), so a flood of addresses cannot grow memory."""

    def __init__(
        self,
        per_client: int,
        window: float,
        global_requests: int,
        max_clients: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_client = per_client
        self._window = window
        self._clock = clock
        self._global = TokenBucket(global_requests, window, clock)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max_clients = max(1, max_clients)
        self._lock = threading.Lock()

    def take(self, client: str) -> tuple[bool, int]:
        """(allowed, retry_after_seconds) for one request of `client`; the client's bucket first, so a
        client over its own limit does not use up the global budget."""
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = TokenBucket(self._per_client, self._window, self._clock)
                self._buckets[client] = bucket
                while len(self._buckets) > self._max_clients:
                    self._buckets.popitem(last=False)
            self._buckets.move_to_end(client)
        allowed, retry = bucket.take()
        if not allowed:
            return allowed, retry
        return self._global.take()
