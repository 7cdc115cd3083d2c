"""SignalLatch: a signal during the wait (even two in a row) ends the wait instead of deadlocking."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from agent.signals import SignalLatch

CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading
    from agent.signals import SignalLatch
    stop = threading.Event()
    with SignalLatch() as latch:
        print("waiting", flush=True)
        latch.wait(stop)
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("count", [1, 2, 5], ids=["one-signal", "two-signals", "burst"])
def test_signals_end_the_wait(count: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "waiting"
    for _ in range(count):
        os.kill(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out.strip() == "done"


def test_stop_event_ends_the_wait_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    with SignalLatch() as latch:
        latch.wait(stop)
        assert not latch.fired
    assert signal.getsignal(signal.SIGTERM) is before
