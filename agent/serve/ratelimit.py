"""A token bucket for the API's probe-triggering endpoints (thread-safe, no I/O, injectable clock)."""

from __future__ import annotations

import math
import threading
import time
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
