"""agent.kube.memtrim: the throttle (pure) and the release on this platform's C library."""

from __future__ import annotations

import sys

import pytest

from agent.kube import memtrim


@pytest.mark.parametrize(
    ("now", "last", "interval", "expected"),
    [
        (100.0, -float("inf"), 5.0, True),  # never released
        (100.0, 95.0, 5.0, True),  # exactly one interval later
        (100.0, 96.0, 5.0, False),  # too soon
        (100.0, 100.0, 0.0, True),  # no throttle
        (100.0, 101.0, 5.0, False),  # a clock that went back: not due
    ],
)
def test_due(now: float, last: float, interval: float, expected: bool) -> None:
    assert memtrim.due(now, last, interval) is expected


def test_release_is_throttled_unless_forced() -> None:
    if not memtrim.available():
        assert not memtrim.release(force=True)  # a no-op without glibc
        return
    assert memtrim.release(force=True)
    assert not memtrim.release()  # within MIN_INTERVAL_S of the last one
    assert memtrim.release(force=True)


def test_available_where_glibc_is() -> None:
    libc, _ = __import__("platform").libc_ver()
    assert memtrim.available() is (sys.platform.startswith("linux") and libc == "glibc")
