"""Issue independent API reads at once, so a caller pays one round trip for all of them, not one each.

A one-shot command against a remote control plane spends most of its time waiting on round trips
(100 ms each is common); the policy view alone is a dozen reads that do not depend on each other.
`settle` runs them on short-lived threads (the client's connection pool is thread-safe) and hands
back every outcome in the order the calls were given, so the caller can raise or ignore each failure
exactly where a sequential version would have. No kubernetes import here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

MAX_PARALLEL = 8  # below the client's connection pool size (live_config), so no connection is discarded


def settle(calls: Sequence[Callable[[], Any]]) -> list[Future[Any]]:
    """Run every call, at most MAX_PARALLEL at a time; their finished futures, in the calls' order.

    Nothing is raised here: `future.result()` returns the value or raises that call's exception."""
    if len(calls) <= 1:
        return [_now(call) for call in calls]
    workers = min(len(calls), MAX_PARALLEL)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kube-read") as pool:
        futures = [pool.submit(call) for call in calls]
    return futures


def _now(call: Callable[[], Any]) -> Future[Any]:
    """A single call needs no thread; its outcome is wrapped the same way."""
    future: Future[Any] = Future()
    try:
        future.set_result(call())
    except Exception as exc:  # handed to the caller through the future, as a thread's would be
        future.set_exception(exc)
    return future
