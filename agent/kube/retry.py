"""Bounded retries with exponential backoff and full jitter for calls to the API server.

Only transport failures (connection refused/reset, timeouts) are retried, decided by the caller's
predicate; after `attempts` tries or `budget` seconds the last failure becomes ClusterUnreachable.
Never retries anything that may have run a command (callers only wrap the handshake / idempotent GETs).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from agent.errors import ClusterUnreachable

T = TypeVar("T")

ATTEMPTS = 3
BASE_DELAY = 0.25  # seconds; delays are drawn from [0, BASE_DELAY * 2**n] ("full jitter")
BUDGET = 4.5  # seconds of wall time for all attempts together, so callers see an answer in < ~5 s


def with_retries(
    call: Callable[[], T],
    *,
    transient: Callable[[BaseException], bool],
    server: str,
    attempts: int = ATTEMPTS,
    budget: float = BUDGET,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Run `call`; on a transient error retry with backoff; give up with ClusterUnreachable."""
    start = time.monotonic()
    last: BaseException | None = None
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if not transient(exc):
                raise
            last = exc
        remaining = budget - (time.monotonic() - start)
        if attempt + 1 >= attempts or remaining <= 0:
            break
        sleep(min(remaining, BASE_DELAY * (2**attempt) * jitter()))
    raise ClusterUnreachable(
        f"Kubernetes API server {server} is unreachable after {attempts} attempts "
        f"({_short(last)}); check that it is running and reachable from here"
    ) from last


def _short(exc: BaseException | None) -> str:
    text = " ".join(str(exc).split()) if exc is not None else "no error recorded"
    return text if len(text) <= 200 else text[:197] + "..."
