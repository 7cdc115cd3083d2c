"""Waiting for SIGINT/SIGTERM without deadlocks.

A Python signal handler runs in the main thread between bytecodes. If it calls `Event.set()` while
the main thread is inside `Event.wait()` (or while a first handler is still in `set()` when a
second signal lands), it re-enters the Event's non-reentrant lock and the process hangs. These
handlers only record the signal; the waiting loop polls.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

POLL_S = 0.2


class SignalLatch:
    """`with SignalLatch() as latch: latch.wait(stop)` returns on SIGINT/SIGTERM or when `stop` is set."""

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self._signals = signals
        self._received: list[int] = []
        self._previous: dict[signal.Signals, Any] = {}

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self._received.append(signum)  # list.append takes no Python-level lock

    @property
    def fired(self) -> bool:
        return bool(self._received)

    def __enter__(self) -> SignalLatch:
        if threading.current_thread() is threading.main_thread():
            for sig in self._signals:
                self._previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def wait(self, stop: threading.Event | None = None, poll: float = POLL_S) -> None:
        while not self._received and not (stop is not None and stop.is_set()):
            time.sleep(poll)
