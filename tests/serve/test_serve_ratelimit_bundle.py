"""Token bucket (fake clock) and the bounded evidence bundle reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.serve.bundle_reader import read_bundle
from agent.serve.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("capacity", "window", "advance", "expected"),
    [
        (2, 60.0, [0, 0, 0], [(True, 0), (True, 0), (False, 30)]),
        (2, 60.0, [0, 0, 30], [(True, 0), (True, 0), (True, 0)]),
        (1, 10.0, [0, 1, 0], [(True, 0), (False, 9), (False, 9)]),
        (3, 1.0, [0, 0, 0], [(True, 0), (True, 0), (True, 0)]),
    ],
    ids=["burst-then-limited", "refilled", "retry-after-counts-down", "within-capacity"],
)
def test_token_bucket(
    capacity: int, window: float, advance: list[float], expected: list[tuple[bool, int]]
) -> None:
    clock = Clock()
    bucket = TokenBucket(capacity, window, clock)
    got = []
    for step in advance:
        clock.now += step
        got.append(bucket.take())
    assert got == expected


def test_bundle_reader_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x" * 1500)
    (tmp_path / "b.txt").write_text("y" * 1500)
    files = read_bundle(tmp_path, max_bytes=2000)
    assert files == {"a.txt": "x" * 1500, "b.txt": "y" * 500}
    assert read_bundle(tmp_path / "missing", 1000) == {}
