"""Hand the C heap's free memory back to the OS after a burst of big, short-lived allocations.

glibc keeps what a thread frees in its heap for reuse: the top of a heap is returned only above a
trim threshold that glibc itself raises after every large free (the dynamic mmap threshold, so
later big buffers land in the heap too), and free pages inside a heap are never returned on their
own. After a cache's sync (pages of JSON decoded and dropped) or a metrics scrape (megabytes of
text) that memory stays counted in the agent's RSS until `malloc_trim(0)` gives it back.

`release()` calls it where glibc provides it; elsewhere (musl, macOS, Windows) it does nothing. It
is throttled (MIN_INTERVAL_S) because the call walks every free chunk under the heap's locks.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections.abc import Callable

MIN_INTERVAL_S = 5.0

_lock = threading.Lock()
_last = -float("inf")


def _load() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None).malloc_trim  # the libc this process runs on; musl has none
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


_malloc_trim = _load()


def due(now: float, last: float, interval: float = MIN_INTERVAL_S) -> bool:
    """True when at least `interval` seconds passed since the last release (pure)."""
    return now - last >= interval


def available() -> bool:
    """True where the C library can release memory on request (glibc)."""
    return _malloc_trim is not None


def release(force: bool = False) -> bool:
    """Return free C-heap memory to the OS; False when unavailable or throttled (unless `force`)."""
    global _last
    if _malloc_trim is None:
        return False
    with _lock:
        now = time.monotonic()
        if not force and not due(now, _last):
            return False
        _last = now
        _malloc_trim(0)
    return True
