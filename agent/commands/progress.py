"""Progress for long CLI work, on a terminal only: a spinner line (`status`) or a transient bar
(`track`) on stderr. Piped or redirected stderr (and TERM=dumb) gets nothing at all, so scripts and
logs stay clean; stdout is never touched. Rich is imported only when something is drawn.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")


class Status(Protocol):
    def update(self, text: str) -> None: ...


class _Quiet:
    def update(self, text: str) -> None:
        pass


def enabled() -> bool:
    """Draw progress only for a person: stderr is a terminal and the terminal can redraw a line."""
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


@contextmanager
def status(text: str) -> Iterator[Status]:
    """A spinner with `text` on stderr while the block runs (update() changes the text)."""
    if not enabled():
        yield _Quiet()
        return
    from rich.console import Console

    with Console(stderr=True).status(text) as live:
        yield _RichStatus(live)


class _RichStatus:
    def __init__(self, live: object) -> None:
        self._live = live

    def update(self, text: str) -> None:
        self._live.update(text)  # type: ignore[attr-defined]


def track(items: Iterable[T], total: int, description: str) -> Iterable[T]:
    """`items` unchanged, with a transient progress bar on stderr while they are consumed."""
    if not enabled():
        return items
    from rich.console import Console
    from rich.progress import track as rich_track

    return rich_track(
        items, total=total, description=description, console=Console(stderr=True), transient=True
    )
